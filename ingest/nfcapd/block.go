package nfcapd

import (
	"bytes"
	"compress/bzip2"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Block types and flags of the data block header.
const (
	blockTypeV1      = 2 // nfdump 1.6: common records and extension maps
	blockTypeV3      = 3 // nfdump 1.7: V3 records
	blockTypeV4      = 4
	flagUncompressed = 0x1
)

// block is one data block as read: its header and its records'
// bytes, decompressed.
type block struct {
	Offset     int64 // file offset of the block header
	NumRecords uint32
	Size       uint32 // bytes on disk after the header
	Type       uint16
	Flags      uint16
	Data       []byte // decompressed records; valid until the block is read into again

	raw, out []byte     // the block's own buffers, kept from one read to the next
	done     chan error // prefetch: the block's decompression is over
}

// blockError is a problem with one block: Fatal when the framing is lost
// (a cut or an impossible header: nothing after it can be found), else
// the block is passed over and the next one read.
type blockError struct {
	Offset int64
	Reason string // "truncated", "corrupt"
	Detail string
	Fatal  bool
}

func (e *blockError) Error() string {
	return fmt.Sprintf("offset %d: %s: %s", e.Offset, e.Reason, e.Detail)
}

// blockReader reads the blocks of a file one at a time: the memory it
// holds is one compressed and one decompressed block, whatever the file's
// size.
type blockReader struct {
	r      io.Reader
	off    int64 // file offset of the next unread byte
	dc     decompressor
	hdrBuf [blockHdrLen]byte
}

func newBlockReader(r io.Reader, off int64, comp uint8) *blockReader {
	return &blockReader{r: r, off: off, dc: decompressor{comp: comp}}
}

// next reads the next block and decompresses it. It returns io.EOF at a
// clean end (no byte left), a *blockError for a damaged block, or the
// reader's own error.
func (br *blockReader) next(b *block) error {
	if err := br.readRaw(b); err != nil {
		return err
	}
	return br.dc.run(b)
}

// readRaw reads the next block's header and its bytes as stored.
func (br *blockReader) readRaw(b *block) error {
	start := br.off
	n, err := io.ReadFull(br.r, br.hdrBuf[:])
	br.off += int64(n)
	if err == io.EOF {
		return io.EOF
	}
	if err == io.ErrUnexpectedEOF {
		return &blockError{Offset: start, Reason: "truncated", Detail: fmt.Sprintf("file ends inside a block header (%d of %d bytes)", n, blockHdrLen), Fatal: true}
	}
	if err != nil {
		return err
	}
	le := binary.LittleEndian
	b.Offset, b.NumRecords, b.Size = start, le.Uint32(br.hdrBuf[0:]), le.Uint32(br.hdrBuf[4:])
	b.Type, b.Flags, b.Data = le.Uint16(br.hdrBuf[8:]), le.Uint16(br.hdrBuf[10:]), nil
	if b.Size == 0 || b.Size > maxBlockSize {
		return &blockError{Offset: start, Reason: "corrupt", Fatal: true,
			Detail: fmt.Sprintf("impossible block header (size %d, %d records, type %d): the rest of the file cannot be framed", b.Size, b.NumRecords, b.Type)}
	}
	if cap(b.raw) < int(b.Size) {
		b.raw = make([]byte, b.Size)
	}
	raw := b.raw[:b.Size]
	n, err = io.ReadFull(br.r, raw)
	br.off += int64(n)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return &blockError{Offset: start, Reason: "truncated", Fatal: true,
			Detail: fmt.Sprintf("file ends inside a block: %d of %d bytes (capture still open, or the file was cut)", n, b.Size)}
	}
	return err
}

// decompressor expands blocks: one per goroutine (it keeps a zstd
// decoder).
type decompressor struct {
	comp uint8 // the file's method
	zstd *zstd.Decoder
}

// run decompresses a block read by readRaw into b.Data; a block that does
// not decompress is a non-fatal *blockError (the next block is framed by
// its header all the same).
func (d *decompressor) run(b *block) error {
	comp := d.comp
	if b.Flags&flagUncompressed != 0 {
		comp = CompNone
	}
	data, err := d.decompress(b, comp, b.raw[:b.Size])
	if err != nil {
		return &blockError{Offset: b.Offset, Reason: "corrupt", Detail: fmt.Sprintf("%s block of %d bytes does not decompress (%v): its %d records are dropped", compName(comp), b.Size, err, b.NumRecords)}
	}
	b.Data = data
	return nil
}

func compName(c uint8) string {
	switch c {
	case CompNone:
		return "uncompressed"
	case CompLZO:
		return "LZO"
	case CompBZ2:
		return "BZ2"
	case CompLZ4:
		return "LZ4"
	case CompZSTD:
		return "ZSTD"
	}
	return fmt.Sprintf("compression-%d", c)
}

var errTooLarge = errors.New("decompresses to more than 16 MiB")

// decompress expands one block. The output buffer is kept for the next
// block; its size is bounded by maxBlockSize, so a decompression bomb
// costs no more than one honest block.
func (d *decompressor) decompress(b *block, comp uint8, raw []byte) ([]byte, error) {
	switch comp {
	case CompNone:
		return raw, nil
	case CompLZO:
		out, err := lzo1xDecompress(raw, b.out, maxBlockSize)
		b.out = out[:0]
		return out, err
	case CompLZ4:
		// LZ4 needs the whole destination up front. A block keeps its
		// buffer, which starts near what such a block usually expands to
		// and doubles when too small (the library reports a short
		// destination and damaged data alike, so damage costs at most the
		// doublings up to maxBlockSize).
		size := max(cap(b.out), min(4*len(raw)+64<<10, maxBlockSize))
		for {
			if cap(b.out) < size {
				b.out = make([]byte, 0, size)
			}
			n, err := lz4.UncompressBlock(raw, b.out[:cap(b.out)])
			if err == nil {
				return b.out[:n], nil
			}
			if errors.Is(err, lz4.ErrInvalidSourceShortBuffer) && size < maxBlockSize {
				size = min(2*size, maxBlockSize)
				continue
			}
			return nil, err
		}
	case CompBZ2:
		return readAll(b, bzip2.NewReader(bytes.NewReader(raw)))
	case CompZSTD:
		if d.zstd == nil {
			z, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxBlockSize), zstd.WithDecoderMaxWindow(maxBlockSize))
			if err != nil {
				return nil, err
			}
			d.zstd = z
		}
		out, err := d.zstd.DecodeAll(raw, b.out[:0])
		if err != nil {
			return nil, err
		}
		if len(out) > maxBlockSize {
			return nil, errTooLarge
		}
		b.out = out[:0]
		return out, nil
	}
	return nil, fmt.Errorf("unknown compression method %d", comp)
}

// readAll reads a decompressing reader into the output buffer, at most
// maxBlockSize bytes.
func readAll(b *block, r io.Reader) ([]byte, error) {
	out := b.out[:0]
	for {
		if len(out) == cap(out) {
			if cap(out) >= maxBlockSize {
				var one [1]byte
				if n, _ := r.Read(one[:]); n > 0 {
					return nil, errTooLarge
				}
				break
			}
			out = append(out, 0)[:len(out)]
		}
		n, err := r.Read(out[len(out):min(cap(out), maxBlockSize)])
		out = out[:len(out)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	b.out = out[:0]
	return out, nil
}

func (d *decompressor) close() {
	if d.zstd != nil {
		d.zstd.Close()
	}
}

func (br *blockReader) close() { br.dc.close() }
