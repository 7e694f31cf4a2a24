// Package ftfile reads and writes flow-tools 0.68 binary flow files
// (stream versions 1 and 3; export versions 1, 5, 6, 7, 1005 and the v8
// aggregations) without the C library, following
// docs/flow-tools-format.md.
package ftfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Header flags (HEADER_FLAGS TLV).
const (
	FlagDone      = 0x01
	FlagCompress  = 0x02
	FlagMultPDU   = 0x04
	FlagStreaming = 0x08
	FlagXlate     = 0x10
	FlagPreloaded = 0x20
)

// TLV types of stream version 3 headers.
const (
	tlvNull           = 0x00
	tlvVendor         = 0x01
	tlvExVer          = 0x02
	tlvAggVer         = 0x03
	tlvAggMethod      = 0x04
	tlvExporterIP     = 0x05
	tlvCapStart       = 0x06
	tlvCapEnd         = 0x07
	tlvHeaderFlags    = 0x08
	tlvRotSchedule    = 0x09
	tlvFlowCount      = 0x0A
	tlvFlowLost       = 0x0B
	tlvFlowMisordered = 0x0C
	tlvPktCorrupt     = 0x0D
	tlvSeqReset       = 0x0E
	tlvCapHostname    = 0x0F
	tlvComments       = 0x10
	tlvIfName         = 0x11
	tlvIfAlias        = 0x12
	tlvInterrupt      = 0x13
)

// maxHeaderLen bounds what an untrusted header length may make us read;
// flow-tools writes at most 16 KiB.
const maxHeaderLen = 1 << 20

// TLV is one header entry as stored.
type TLV struct {
	Type  uint16
	Value []byte
}

// Header is a flow file's header.
type Header struct {
	BigEndian      bool
	StreamVersion  uint8
	HeaderLen      int // data starts here
	ExportVersion  uint16
	AggVersion     uint8
	AggMethod      uint8
	Flags          uint32
	CapStart       uint32
	CapEnd         uint32
	FlowCount      uint32
	FlowLost       uint32
	FlowMisordered uint32
	PktCorrupt     uint32
	SeqReset       uint32
	ExporterIP     uint32
	RotSchedule    uint32
	Vendor         uint8
	Hostname       string
	Comments       string
	// Present has bit 1<<type for each TLV type seen. For stream version 1
	// it is what flow-tools marks present when it converts that header:
	// VENDOR, EX_VER, AGG_VER, HEADER_FLAGS, ROT_SCHEDULE, FLOW_COUNT, and
	// CAP_HOSTNAME/COMMENTS when not empty (not the capture times).
	Present uint32
	TLVs    []TLV // every TLV in file order, later ones overriding earlier ones in the fields above
	// IfNames and IfAliases are the IF_NAME/IF_ALIAS TLVs (no 0.68 program
	// writes them), in file order.
	IfNames   []IfName
	IfAliases []IfAlias
}

// IfName is one IF_NAME TLV: the name of an exporter's interface.
type IfName struct {
	Exporter uint32
	IfIndex  uint16
	Name     string
}

// IfAlias is one IF_ALIAS TLV: a name for a list of interfaces.
type IfAlias struct {
	Exporter uint32
	IfIndex  []uint16
	Name     string
	// swappedName is what flow-tools shows for a byte-swapped file: it
	// reads the count as 0 and so takes the name from right after it.
	swappedName string
}

// Has reports whether the header carried TLV type t.
func (h *Header) Has(t int) bool { return h.Present&(1<<uint(t)) != 0 }

func (h *Header) order() binary.ByteOrder {
	if h.BigEndian {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// Complete reports whether the writer finished the file: DONE, or a
// stream (which never gets DONE but is whole).
func (h *Header) Complete() bool {
	return h.Flags&(FlagDone|FlagStreaming|FlagPreloaded) != 0
}

// closedCount is the header's FLOW_COUNT when it is final: the file has
// the DONE flag and a FLOW_COUNT. The reader decodes no more records than
// this. A capture still open (no DONE) has a count of 0, a stream has none.
func (h *Header) closedCount() (uint32, bool) {
	if h.Flags&FlagDone == 0 || !h.Has(tlvFlowCount) {
		return 0, false
	}
	return h.FlowCount, true
}

// Errors a caller may test for.
var (
	ErrEmpty    = errors.New("empty file, no header")
	ErrBadMagic = errors.New("not a flow-tools file (bad magic number)")
)

// ReadHeader reads a header and leaves r at the first data byte.
func ReadHeader(r io.Reader) (*Header, error) {
	var pre [4]byte
	n, err := io.ReadFull(r, pre[:])
	if n == 0 && (err == io.EOF || err == io.ErrUnexpectedEOF) {
		return nil, ErrEmpty
	}
	if err != nil {
		return nil, fmt.Errorf("short read while loading header: %d of 4 bytes", n)
	}
	if pre[0] != 0xCF || pre[1] != 0x10 {
		return nil, ErrBadMagic
	}
	h := &Header{StreamVersion: pre[3]}
	switch pre[2] {
	case 1:
	case 2:
		h.BigEndian = true
	default:
		return nil, fmt.Errorf("byte order byte is %d, want 1 (little) or 2 (big)", pre[2])
	}
	switch h.StreamVersion {
	case 3:
		return h, h.readV3(r)
	case 1:
		return h, h.readV1(r)
	}
	return nil, fmt.Errorf("stream version %d: must be 1 or 3", h.StreamVersion)
}

func (h *Header) readV3(r io.Reader) error {
	var lb [4]byte
	if _, err := io.ReadFull(r, lb[:]); err != nil {
		return fmt.Errorf("short read while loading header length")
	}
	bo := h.order()
	hl := bo.Uint32(lb[:])
	if hl < 8 || hl > maxHeaderLen {
		return fmt.Errorf("header length %d out of range (8..%d)", hl, maxHeaderLen)
	}
	h.HeaderLen = int(hl)
	buf := make([]byte, hl-8)
	if n, err := io.ReadFull(r, buf); err != nil {
		return fmt.Errorf("short read while loading header: %d of %d bytes", 8+n, hl)
	}
	// flow-tools' rule: parse TLVs while at least 4 bytes remain; stop
	// quietly if a value would run past the header (padding is never parsed).
	for len(buf) >= 4 {
		t, l := bo.Uint16(buf), int(bo.Uint16(buf[2:]))
		if 4+l > len(buf) {
			break
		}
		val := buf[4 : 4+l]
		buf = buf[4+l:]
		h.TLVs = append(h.TLVs, TLV{Type: t, Value: val})
		if t < 32 {
			h.Present |= 1 << t
		}
		u32 := func() uint32 {
			if len(val) >= 4 {
				return bo.Uint32(val)
			}
			return 0
		}
		switch t {
		case tlvVendor:
			if len(val) >= 1 {
				h.Vendor = val[0]
			}
		case tlvExVer:
			if len(val) >= 2 {
				h.ExportVersion = bo.Uint16(val)
			}
		case tlvAggVer:
			if len(val) >= 1 {
				h.AggVersion = val[0]
			}
		case tlvAggMethod:
			if len(val) >= 1 {
				h.AggMethod = val[0]
			}
		case tlvExporterIP:
			h.ExporterIP = u32()
		case tlvCapStart:
			h.CapStart = u32()
		case tlvCapEnd:
			h.CapEnd = u32()
		case tlvHeaderFlags:
			h.Flags = u32()
		case tlvRotSchedule:
			h.RotSchedule = u32()
		case tlvFlowCount:
			h.FlowCount = u32()
		case tlvFlowLost:
			h.FlowLost = u32()
		case tlvFlowMisordered:
			h.FlowMisordered = u32()
		case tlvPktCorrupt:
			h.PktCorrupt = u32()
		case tlvSeqReset:
			h.SeqReset = u32()
		case tlvCapHostname:
			h.Hostname = cString(val)
		case tlvComments:
			h.Comments = cString(val)
		case tlvIfName:
			if len(val) >= 6 {
				h.IfNames = append(h.IfNames, IfName{Exporter: bo.Uint32(val), IfIndex: bo.Uint16(val[4:]), Name: cString(val[6:])})
			}
		case tlvIfAlias:
			if len(val) >= 6 {
				n := int(bo.Uint16(val[4:]))
				if 6+2*n <= len(val) {
					a := IfAlias{Exporter: bo.Uint32(val), IfIndex: make([]uint16, n), Name: cString(val[6+2*n:]), swappedName: cString(val[6:])}
					for i := range a.IfIndex {
						a.IfIndex[i] = bo.Uint16(val[6+2*i:])
					}
					h.IfAliases = append(h.IfAliases, a)
				}
			}
		}
	}
	return nil
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// Presence bits flow-tools sets for every stream-version-1 header. It
// means to mark the capture times but ORs the TLV numbers 6|7 into its
// field-bit mask, which sets the VENDOR, EX_VER and AGG_VER bits instead;
// lost and misordered counts are never marked either.
const v1Present = 1<<tlvVendor | 1<<tlvExVer | 1<<tlvAggVer | 1<<tlvHeaderFlags | 1<<tlvRotSchedule | 1<<tlvFlowCount

func (h *Header) readV1(r io.Reader) error {
	buf := make([]byte, 356)
	if n, err := io.ReadFull(r, buf); err != nil {
		return fmt.Errorf("short read while loading header: %d of 360 bytes", 4+n)
	}
	bo := h.order()
	h.HeaderLen = 360
	h.ExportVersion = bo.Uint16(buf[0:])
	if h.ExportVersion == 0xFFFF {
		h.ExportVersion = 1
	}
	h.CapStart = bo.Uint32(buf[4:])
	h.CapEnd = bo.Uint32(buf[8:])
	h.Flags = bo.Uint32(buf[12:])
	h.RotSchedule = bo.Uint32(buf[16:])
	h.FlowCount = bo.Uint32(buf[20:])
	h.FlowLost = bo.Uint32(buf[24:])
	h.FlowMisordered = bo.Uint32(buf[28:])
	h.Hostname = cString(buf[32:100])
	h.Comments = cString(buf[100:356])
	h.Present = v1Present
	if h.Hostname != "" {
		h.Present |= 1 << tlvCapHostname
	}
	if h.Comments != "" {
		h.Present |= 1 << tlvComments
	}
	// flow-tools marks every stream-v1 file as translated (in memory only).
	h.Flags |= FlagXlate
	if h.ExportVersion != 1 && h.ExportVersion != 5 {
		return fmt.Errorf("stream version 1 with export version %d (only 1 and 5 exist)", h.ExportVersion)
	}
	return nil
}

// RecordSize is the size of one record, or 0 for a version flow-tools
// does not write.
func (h *Header) RecordSize() int {
	if h.StreamVersion == 1 {
		return 60
	}
	switch h.ExportVersion {
	case 1:
		return 60
	case 5:
		return 64
	case 6:
		return 72
	case 7:
		return 68
	case 1005:
		return 72
	case 8:
		if h.AggVersion != 2 {
			return 0
		}
		switch h.AggMethod {
		case 1, 2, 3, 4, 9, 10, 11, 12:
			return 48
		case 6:
			return 52
		case 5, 7:
			return 56
		case 13, 14:
			return 60
		case 8:
			return 64
		}
	}
	return 0
}
