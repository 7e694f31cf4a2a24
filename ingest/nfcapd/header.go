// Package nfcapd reads nfdump's own binary files (what nfcapd, sfcapd,
// nfpcapd and `nfdump -w` write) without nfdump: the current layout
// (LAYOUT_VERSION_2 of nfdump 1.7: a file header, data blocks of V3
// records, an appendix with the ident and the statistics) and the older
// layout 1 of nfdump 1.6 (statistics in the header, common records laid
// out by extension maps), with every compression nfdump writes (none, LZO,
// BZ2, LZ4, ZSTD).
//
// Files are read in the byte order of the machine that wrote them, as
// nfdump itself does; only little-endian files (x86, arm64) are read, and a
// big-endian one is refused with a clear error.
package nfcapd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// The magic every nfdump file starts with, and the layouts.
const (
	magic        = 0xA50C
	layoutV1     = 1
	layoutV2     = 2
	headerV2Len  = 40
	headerV1Len  = 140 // magic, version, flags, NumBlocks, ident[128]
	statV1Len    = 136
	statV2Len    = 144
	identLen     = 128
	blockHdrLen  = 12
	maxBlockSize = 16 << 20 // nfdump's buffers are 5 MiB; a larger block is damage
)

// Compression methods, as the V2 header numbers them.
const (
	CompNone = 0
	CompLZO  = 1
	CompBZ2  = 2
	CompLZ4  = 3
	CompZSTD = 4
)

// CompressionName is the name nfdump -I uses for a compression method.
func CompressionName(c uint8) string {
	switch c {
	case CompNone:
		return "not compressed"
	case CompLZO:
		return "lzo compressed"
	case CompBZ2:
		return "bz2 compressed"
	case CompLZ4:
		return "lz4 compressed"
	case CompZSTD:
		return "zstd compressed"
	}
	return fmt.Sprintf("unknown compression %d", c)
}

// ErrBigEndian is returned for a file written on a big-endian machine.
var ErrBigEndian = errors.New("nfdump file written on a big-endian machine (nfdump reads files only in the byte order they were written in; so does flowsift)")

// Header is an nfdump file's header, with what the layout 1 header keeps
// inline (ident, statistics) filled in from there.
type Header struct {
	Layout         uint16 // 1 (nfdump 1.6) or 2 (nfdump 1.7)
	NfdVersion     uint32 // version of nfdump that wrote it, 0x01070100 = 1.7.1 (layout 2 only)
	Created        int64  // Unix seconds (layout 2 only)
	Compression    uint8
	Encryption     uint8
	AppendixBlocks uint16
	OffAppendix    int64
	BlockSize      uint32
	NumBlocks      uint32
	Anonymized     bool   // layout 1 flag
	Ident          string // layout 1: in the header; layout 2: from the appendix
	Stat           *Stat  // layout 1: after the header; layout 2: from the appendix
	DataOffset     int64  // where the first data block starts
}

// Stat is nfdump's statistics record of a file.
type Stat struct {
	Flows, Bytes, Packets                             uint64
	FlowsTCP, FlowsUDP, FlowsICMP, FlowsOther         uint64
	BytesTCP, BytesUDP, BytesICMP, BytesOther         uint64
	PacketsTCP, PacketsUDP, PacketsICMP, PacketsOther uint64
	FirstSeen, LastSeen                               uint64 // ms since the epoch
	SequenceFailures                                  uint64
}

func parseStatV2(b []byte) *Stat {
	u := func(i int) uint64 { return binary.LittleEndian.Uint64(b[8*i:]) }
	return &Stat{u(0), u(1), u(2), u(3), u(4), u(5), u(6), u(7), u(8), u(9), u(10), u(11), u(12), u(13), u(14), u(15), u(16), u(17)}
}

func parseStatV1(b []byte) *Stat {
	u := func(i int) uint64 { return binary.LittleEndian.Uint64(b[8*i:]) }
	le := binary.LittleEndian
	first := uint64(le.Uint32(b[120:]))*1000 + uint64(le.Uint16(b[128:]))
	last := uint64(le.Uint32(b[124:]))*1000 + uint64(le.Uint16(b[130:]))
	return &Stat{u(0), u(1), u(2), u(3), u(4), u(5), u(6), u(7), u(8), u(9), u(10), u(11), u(12), u(13), u(14), first, last, uint64(le.Uint32(b[132:]))}
}

// sniff reports whether head starts like an nfdump file of a layout this
// package reads.
func sniff(head []byte) bool {
	if len(head) < 4 || binary.LittleEndian.Uint16(head) != magic {
		return false
	}
	v := binary.LittleEndian.Uint16(head[2:])
	return v == layoutV1 || v == layoutV2
}

// ReadHeader reads the file header (and, for layout 1, the statistics
// record that follows it) from the start of r. Layout 2's ident and
// statistics are in the appendix at the end: the Reader fills them in when
// it gets there, and ReadInfo seeks to them.
func ReadHeader(r io.Reader) (*Header, error) {
	var b [headerV1Len + statV1Len]byte
	if _, err := io.ReadFull(r, b[:4]); err != nil {
		return nil, fmt.Errorf("file header: %w", shortIsTruncated(err))
	}
	le := binary.LittleEndian
	if m := le.Uint16(b[:]); m != magic {
		if binary.BigEndian.Uint16(b[:]) == magic {
			return nil, ErrBigEndian
		}
		return nil, fmt.Errorf("offset 0: bad magic %#04x, not an nfdump file", m)
	}
	h := &Header{Layout: le.Uint16(b[2:])}
	switch h.Layout {
	case layoutV2:
		if _, err := io.ReadFull(r, b[4:headerV2Len]); err != nil {
			return nil, fmt.Errorf("file header: %w", shortIsTruncated(err))
		}
		h.NfdVersion = le.Uint32(b[4:])
		h.Created = int64(le.Uint64(b[8:]))
		h.Compression = b[16]
		h.Encryption = b[17]
		h.AppendixBlocks = le.Uint16(b[18:])
		h.OffAppendix = int64(le.Uint64(b[24:]))
		h.BlockSize = le.Uint32(b[32:])
		h.NumBlocks = le.Uint32(b[36:])
		h.DataOffset = headerV2Len
		if h.Compression > CompZSTD {
			return nil, fmt.Errorf("offset 16: unknown compression method %d", h.Compression)
		}
		if h.Encryption != 0 {
			return nil, fmt.Errorf("offset 17: encrypted file (method %d), not readable", h.Encryption)
		}
	case layoutV1:
		if _, err := io.ReadFull(r, b[4:]); err != nil {
			return nil, fmt.Errorf("layout 1 file header and statistics: %w", shortIsTruncated(err))
		}
		flags := le.Uint32(b[4:])
		switch {
		case flags&0x19 == 0:
			h.Compression = CompNone
		case flags&0x01 != 0:
			h.Compression = CompLZO
		case flags&0x08 != 0:
			h.Compression = CompBZ2
		default:
			h.Compression = CompLZ4
		}
		h.Anonymized = flags&0x02 != 0
		h.NumBlocks = le.Uint32(b[8:])
		h.Ident = cString(b[12 : 12+identLen])
		h.Stat = parseStatV1(b[headerV1Len:])
		h.DataOffset = headerV1Len + statV1Len
	default:
		return nil, fmt.Errorf("offset 2: unsupported nfdump file layout %d", h.Layout)
	}
	return h, nil
}

func shortIsTruncated(err error) error {
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("file is shorter than its header (truncated)")
	}
	return err
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// VersionString formats NfdVersion as nfdump prints it (1.7.1).
func (h *Header) VersionString() string {
	v := h.NfdVersion
	if v == 0 {
		return "unknown"
	}
	s := fmt.Sprintf("%d.%d.%d", v>>24, v>>16&0xff, v>>8&0xff)
	if p := v & 0xff; p != 0 {
		s += fmt.Sprintf("-%d", p)
	}
	return s
}

// CreatedTime is Created as a time (zero for layout 1).
func (h *Header) CreatedTime() time.Time {
	if h.Created == 0 {
		return time.Time{}
	}
	return time.Unix(h.Created, 0).UTC()
}
