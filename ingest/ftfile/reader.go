package ftfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zlib"

	"github.com/flowsift/flowsift/flow"
)

// Options change how records are decoded.
type Options struct {
	// CompatByteOrder reproduces flow-tools 0.68's misreading of
	// big-endian files on little-endian hosts (v8.12 dst_as and v1005
	// exaddr read little-endian, v1005 tags as 16-bit values), so output
	// matches flow-export's byte for byte. Off, every field is read in the
	// header's byte order, which is what the file really holds.
	CompatByteOrder bool
}

// Reader decodes the records of one flow file or stream.
type Reader struct {
	path  string
	opt   Options
	hdr   *Header
	size  int
	mask  uint64
	dec   func(buf []byte, dst []flow.Record) // decodes len(dst) records
	src   *countReader
	br    *bufio.Reader // compressed input, a ByteReader so flate never over-reads
	data  io.Reader     // record bytes
	zr    io.ReadCloser
	buf   []byte
	nrec  int64
	skips []flow.Skip
	done  bool
	// limit is the header's FLOW_COUNT of a closed file (DONE flag and a
	// FLOW_COUNT), -1 otherwise: the reader never decodes more records
	// than that, so a decompression bomb or a sparse hole costs at most
	// the promised records, and a file with fewer or more records is
	// reported.
	limit int64
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// NewReader reads the header of r and prepares to decode its records.
// path names the input in messages.
func NewReader(r io.Reader, path string, opt Options) (*Reader, error) {
	src := &countReader{r: r}
	h, err := ReadHeader(src)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	rd := &Reader{path: path, opt: opt, hdr: h, src: src, limit: -1}
	if c, ok := h.closedCount(); ok {
		rd.limit = int64(c)
	}
	rd.size = h.RecordSize()
	if rd.size == 0 {
		if h.ExportVersion == 8 {
			return nil, fmt.Errorf("read %s: unsupported v8 aggregation version %d method %d", path, h.AggVersion, h.AggMethod)
		}
		return nil, fmt.Errorf("read %s: unsupported export version %d", path, h.ExportVersion)
	}
	rd.mask = FlowExportMask(h.ExportVersion, h.AggMethod)
	rd.dec = rd.decoder()
	if h.Flags&FlagCompress != 0 {
		rd.br = newBufReader(src)
	} else {
		rd.data = newBufReader(src)
	}
	return rd, nil
}

// A tree holds a file every five or fifteen minutes, hundreds a day, and
// each file's reader needed a 64 KiB read buffer, an inflater (some 40 KiB
// of window and tables) and a record buffer of a chunk (256 KiB): a third
// of everything a report allocated on a 289-file tree, all of it garbage
// a file later. Closed readers give them back for the next file.
var (
	bufPool  = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 64*1024) }}
	zlibPool sync.Pool // of io.ReadCloser that implement zlib.Resetter
	recPool  sync.Pool // of *[]byte
)

func newBufReader(r io.Reader) *bufio.Reader {
	br := bufPool.Get().(*bufio.Reader)
	br.Reset(r)
	return br
}

// newZlib starts inflating r with a pooled inflater if there is one.
func newZlib(r io.Reader) (io.ReadCloser, error) {
	if z, ok := zlibPool.Get().(io.ReadCloser); ok {
		if err := z.(zlib.Resetter).Reset(r, nil); err != nil {
			zlibPool.Put(z)
			return nil, err
		}
		return z, nil
	}
	return zlib.NewReader(r)
}

// Header is the file's header.
func (rd *Reader) Header() *Header { return rd.hdr }

// Skips lists what was passed over (a cut tail, trailing bytes).
func (rd *Reader) Skips() []flow.Skip { return rd.skips }

// Records is how many records were decoded so far.
func (rd *Reader) Records() int64 { return rd.nrec }

func (rd *Reader) skip(reason string, off int64, detail string) {
	rd.skips = append(rd.skips, flow.Skip{Path: rd.path, Offset: off, Reason: reason, Detail: detail, Count: 1})
}

// Read decodes up to len(dst) records into dst. It returns io.EOF after
// the last record; a cut or corrupt tail ends the data early and is
// reported in Skips, not as an error.
func (rd *Reader) Read(dst []flow.Record) (int, error) {
	if rd.done {
		return 0, io.EOF
	}
	if rd.data == nil {
		if err := rd.openZlib(); err != nil {
			return 0, err
		}
		if rd.done {
			return 0, io.EOF
		}
	}
	if len(dst) == 0 {
		return 0, nil
	}
	recs := len(dst)
	if rd.limit >= 0 {
		recs = int(min(int64(recs), rd.limit-rd.nrec))
	}
	want := recs * rd.size
	if cap(rd.buf) < want {
		if b, ok := recPool.Get().(*[]byte); ok && cap(*b) >= want {
			rd.buf = *b
		} else {
			rd.buf = make([]byte, want)
		}
	}
	buf := rd.buf[:want]
	n, err := readFull(rd.data, buf)
	whole := n / rd.size
	rd.dec(buf[:whole*rd.size], dst[:whole])
	rd.nrec += int64(whole)
	if err == nil {
		if rd.limit < 0 || rd.nrec < rd.limit {
			return whole, nil
		}
		rd.done = true
		err = rd.atCount()
	} else {
		rd.done = true
		err = rd.finish(err, n-whole*rd.size)
	}
	if err != nil {
		return whole, err
	}
	if whole == 0 {
		return 0, io.EOF
	}
	return whole, nil
}

// openZlib starts inflating; an empty data section is a file with no
// records (an idle capture killed before its first flush).
func (rd *Reader) openZlib() error {
	if _, err := rd.br.Peek(1); err != nil {
		rd.done = true
		switch {
		case !rd.hdr.Complete():
			rd.skip("truncated", rd.dataOffset(), "incomplete capture file (no DONE flag) with an empty data section: 0 records")
		case rd.limit > 0:
			// A closed file cut right after its header.
			rd.countShort()
		}
		return nil
	}
	zr, err := newZlib(rd.br)
	if err != nil {
		rd.done = true
		switch {
		case errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF:
			rd.skip("truncated", rd.src.n, "file ends inside the zlib header: 0 records"+rd.countNote())
		case isCorrupt(err):
			rd.skip("corrupt", int64(rd.hdr.HeaderLen), fmt.Sprintf("data section is not a zlib stream (%v): 0 records%s", err, rd.countNote()))
		default:
			return fmt.Errorf("read %s: %w", rd.path, err)
		}
		return nil
	}
	rd.zr = zr
	rd.data = zr
	return nil
}

func (rd *Reader) dataOffset() int64 { return rd.src.n - int64(bufferedOf(rd.br)) }

// position is the file offset the records read so far end at: exact for
// uncompressed data, the compressed bytes the inflater has taken for a
// zlib stream.
func (rd *Reader) position() int64 {
	if rd.br != nil {
		return rd.dataOffset()
	}
	return int64(rd.hdr.HeaderLen) + rd.nrec*int64(rd.size)
}

// atCount runs once the header's FLOW_COUNT records were read: it looks
// at most one record further. A whole record there means the file holds
// more than its header says: reported, and not read, whatever its size
// (a decompression bomb, a sparse hole). Less than a record, or the end
// of the data, is classified as any other ending.
func (rd *Reader) atCount() error {
	off := rd.position()
	probe := make([]byte, rd.size)
	n, err := readFull(rd.data, probe)
	if err == nil {
		rd.skip("count-mismatch", off, fmt.Sprintf("header FLOW_COUNT %d, more records follow; not read", rd.limit))
		return nil
	}
	return rd.finish(err, n)
}

// countShort reports a closed file whose data ended cleanly before the
// header's FLOW_COUNT records.
func (rd *Reader) countShort() {
	rd.skip("count-mismatch", rd.position(), fmt.Sprintf("header FLOW_COUNT %d, %d records", rd.limit, rd.nrec))
}

// countNote adds the header's count to the report of a cut or damaged
// closed file (one report per problem: the cut, not also the count).
func (rd *Reader) countNote() string {
	if rd.limit < 0 {
		return ""
	}
	return fmt.Sprintf("; header FLOW_COUNT %d", rd.limit)
}

func bufferedOf(br *bufio.Reader) int {
	if br == nil {
		return 0
	}
	return br.Buffered()
}

// readFull is io.ReadFull that keeps the reader's own error, so a clean
// end of the zlib stream (io.EOF) stays apart from a cut one
// (io.ErrUnexpectedEOF from the inflater).
func readFull(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// isCorrupt tells damaged compressed data from a failing reader.
func isCorrupt(err error) bool {
	var ce flate.CorruptInputError
	return errors.As(err, &ce) || errors.Is(err, zlib.ErrChecksum) || errors.Is(err, zlib.ErrHeader) || errors.Is(err, zlib.ErrDictionary)
}

// finish classifies how the data ended: a cut or damaged tail becomes a
// Skip; an error of the underlying reader is returned.
func (rd *Reader) finish(err error, partial int) error {
	compressed := rd.zr != nil
	note := rd.countNote()
	switch {
	case err == io.EOF && partial == 0:
		// clean end: of a closed file, with as many records as its header says?
		if rd.limit >= 0 && rd.nrec < rd.limit {
			rd.countShort()
		}
	case err == io.EOF && !compressed:
		rd.skip("truncated", rd.position(), fmt.Sprintf("file ends inside a record: %d whole records read, %d bytes dropped%s", rd.nrec, partial, note))
		return nil
	case err == io.EOF:
		rd.skip("truncated", rd.dataOffset(), fmt.Sprintf("zlib stream ends inside a record: %d whole records read, %d bytes dropped%s", rd.nrec, partial, note))
	case errors.Is(err, io.ErrUnexpectedEOF):
		rd.skip("truncated", rd.src.n, fmt.Sprintf("zlib stream cut short (capture killed or file copied while open): %d whole records read, %d bytes of a partial record dropped%s", rd.nrec, partial, note))
		return nil
	case compressed && isCorrupt(err):
		rd.skip("corrupt", rd.dataOffset(), fmt.Sprintf("corrupt zlib data after %d whole records (rest of the file dropped)%s: %v", rd.nrec, note, err))
		return nil
	default:
		return fmt.Errorf("read %s: after %d records: %w", rd.path, rd.nrec, err)
	}
	if compressed {
		// Stop at the end of the zlib stream (flow-tools loops forever on
		// what follows it); say how much was left.
		off := rd.dataOffset()
		if extra, _ := io.Copy(io.Discard, rd.br); extra > 0 {
			rd.skip("trailing-bytes", off, fmt.Sprintf("%d bytes after the end of the zlib stream ignored", extra))
		}
	}
	return nil
}

// Close releases the inflater and gives the reader's buffers back for the
// next file; the reader must not be used after it.
func (rd *Reader) Close() error {
	var err error
	if rd.zr != nil {
		err = rd.zr.Close()
		zlibPool.Put(rd.zr)
		rd.zr, rd.data = nil, nil
	}
	for _, b := range []io.Reader{rd.br, rd.data} {
		if br, ok := b.(*bufio.Reader); ok && br != nil {
			br.Reset(nil)
			bufPool.Put(br)
		}
	}
	rd.br, rd.data = nil, nil
	if rd.buf != nil {
		b := rd.buf
		recPool.Put(&b)
		rd.buf = nil
	}
	rd.done = true
	return err
}

// Format is the flow-tools driver for package ingest.
type Format struct{ Opt Options }

// Name implements ingest.Format.
func (Format) Name() string { return "flow-tools" }

// Sniff implements ingest.Format: the CF 10 magic.
func (Format) Sniff(head []byte, _ string) bool {
	return len(head) >= 2 && head[0] == 0xCF && head[1] == 0x10
}

// Decode implements ingest.Format.
func (f Format) Decode(path string, r io.Reader, emit func(flow.Batch) error, skip func(flow.Skip)) error {
	rd, err := NewReader(r, path, f.Opt)
	if err != nil {
		return err
	}
	defer rd.Close()
	batch := make(flow.Batch, 4096)
	for {
		n, err := rd.Read(batch)
		if n > 0 {
			if err := emit(batch[:n]); err != nil {
				return err
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			for _, s := range rd.Skips() {
				skip(s)
			}
			return err // names the path already
		}
	}
	for _, s := range rd.Skips() {
		skip(s)
	}
	return nil
}

// CaptureStart reads CAP_START from the first bytes of a file, for files
// whose names carry no time.
func (Format) CaptureStart(head []byte) (time.Time, bool) {
	h, err := ReadHeader(bytes.NewReader(head))
	if err != nil || !h.Has(tlvCapStart) || h.CapStart == 0 {
		return time.Time{}, false
	}
	return time.Unix(int64(h.CapStart), 0).UTC(), true
}
