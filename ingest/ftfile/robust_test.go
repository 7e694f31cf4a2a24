package ftfile_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/ingest/ftfile"
	"github.com/flowsift/flowsift/internal/fixture"
)

// encode is the sample records as a complete v5 capture file.
func encode(t testing.TB, level int) []byte {
	return writeStream(t, ftfile.WriterConfig{ExportVersion: 5, Level: level, Capture: true, Flags: ftfile.FlagDone, FlowCount: 500}, sampleRecords())
}

func decodeBytes(b []byte) (int, []flow.Skip, error) {
	var n int
	var skips []flow.Skip
	err := ftfile.Format{}.Decode("x.ft", bytes.NewReader(b), func(bt flow.Batch) error { n += len(bt); return nil },
		func(s flow.Skip) { skips = append(skips, s) })
	return n, skips, err
}

func TestTruncatedAndDamagedInputs(t *testing.T) {
	z := encode(t, 6)
	plain := encode(t, 0)
	hdrLen := len(plain) - 500*64

	// A compressed file cut in the middle: whole records before the cut, one report.
	n, skips, err := decodeBytes(z[:len(z)/2])
	if err != nil || n == 0 || n >= 500 || len(skips) != 1 || skips[0].Reason != "truncated" || skips[0].Offset != int64(len(z)/2) {
		t.Fatalf("cut zlib: n=%d skips=%+v err=%v", n, skips, err)
	}
	// An uncompressed file cut inside record 100.
	n, skips, err = decodeBytes(plain[:hdrLen+100*64+10])
	if err != nil || n != 100 || len(skips) != 1 || skips[0].Reason != "truncated" || skips[0].Offset != int64(hdrLen+100*64) {
		t.Fatalf("cut plain: n=%d skips=%+v err=%v", n, skips, err)
	}
	// Bytes after the zlib stream: all records, and a report, no loop.
	n, skips, err = decodeBytes(append(append([]byte(nil), z...), []byte("garbage after")...))
	if err != nil || n != 500 || len(skips) != 1 || skips[0].Reason != "trailing-bytes" || skips[0].Offset != int64(len(z)) {
		t.Fatalf("trailing: n=%d skips=%+v err=%v", n, skips, err)
	}
	// Corrupt deflate data in the middle.
	bad := append([]byte(nil), z...)
	for i := len(bad) / 2; i < len(bad)/2+40; i++ {
		bad[i] ^= 0xA5
	}
	n, skips, err = decodeBytes(bad)
	if err != nil || n > 500 || len(skips) != 1 || (skips[0].Reason != "corrupt" && skips[0].Reason != "truncated") {
		t.Fatalf("corrupt: n=%d skips=%+v err=%v", n, skips, err)
	}
	// Whole-file errors name the file.
	for name, b := range map[string][]byte{
		"empty":       nil,
		"bad magic":   []byte("hello world, this is not a flow file"),
		"byte order":  append([]byte{0xCF, 0x10, 3, 3}, plain[4:]...),
		"stream ver":  append([]byte{0xCF, 0x10, 1, 2}, plain[4:]...),
		"short hdr":   plain[:hdrLen-3],
		"hdr len < 8": {0xCF, 0x10, 1, 3, 4, 0, 0, 0},
		"huge hdr":    {0xCF, 0x10, 1, 3, 0, 0, 0, 0x7F},
	} {
		_, _, err := decodeBytes(b)
		if err == nil || !strings.Contains(err.Error(), "x.ft") {
			t.Errorf("%s: err %v", name, err)
		}
	}
	if _, _, err := decodeBytes(nil); !errors.Is(err, ftfile.ErrEmpty) {
		t.Errorf("empty: %v", err)
	}
}

func TestKilledHeaderOnlyAndWrapAround(t *testing.T) {
	ex := fixture.FlowTools(t, "format-examples")
	b, _ := os.ReadFile(filepath.Join(ex, "v5-le-killed-header-only.ft"))
	n, skips, err := decodeBytes(b)
	if err != nil || n != 0 || len(skips) != 1 || skips[0].Reason != "truncated" {
		t.Fatalf("killed header-only: n=%d skips=%+v err=%v", n, skips, err)
	}
	recs, _, _ := readAll(t, filepath.Join(ex, "v5-le-compressed.ft"), ftfile.Options{})
	r := recs[3]
	// Section 5's worked example: flow-tools' start is 49.7 days late,
	// the corrected one is right; both ends agree.
	if r.FTStartMS() != 1704295015500 || r.Start != 1700000048204 || r.End != 1700000059500 || r.FTEndMS() != 1700000059500 {
		t.Fatalf("wrap-around record: ft start %d, start %d, end %d", r.FTStartMS(), r.Start, r.End)
	}
	if recs[0].Start != 1699999990123 || recs[0].End != 1699999999123 {
		t.Fatalf("record 1: %d %d", recs[0].Start, recs[0].End)
	}
}

// FuzzDecode: no input makes the decoder panic or loop.
func FuzzDecode(f *testing.F) {
	f.Add(encode(f, 6)[:300])
	f.Add(encode(f, 0)[:400])
	f.Add([]byte{0xCF, 0x10, 2, 1})
	f.Add(buildV1(true, 5, ftfile.FlagCompress, "h", [][60]byte{v1Record(true)}))
	f.Add(buildV3(false, []byte{1, 2}, tlv{0x02, u16v(false, 8)}, tlv{0x03, []byte{2}}, tlv{0x04, []byte{8}}, tlv{0x11, []byte{1, 2, 3, 4, 5, 6, 'x', 0}}, tlv{0x12, []byte{1, 2, 3, 4, 0, 9, 'y'}}))
	// Real files of every kind, cut to keep the corpus small.
	for _, name := range []string{"format-examples/v5-le-compressed.ft", "format-examples/v5-be-uncompressed.ft",
		"format-examples/v5-le-killed-header-only.ft", "formats/v8.8.be.z0.ft", "formats/v8.12.le.z6.ft",
		"formats/v1005.be.z6.ft", "formats/v6.le.z0.ft", "formats/v1.be.z6.ft"} {
		b, err := os.ReadFile(fixture.FlowTools(f, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:min(len(b), 700)])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _ = decodeBytes(b)
		if h, err := ftfile.ReadHeader(bytes.NewReader(b)); err == nil {
			h.WriteText(io.Discard)
		}
		rd, err := ftfile.NewReader(bytes.NewReader(b), "fuzz", ftfile.Options{CompatByteOrder: true})
		if err != nil {
			return
		}
		var buf [64]flow.Record
		for i := 0; i < 1<<16; i++ {
			if _, err := rd.Read(buf[:]); err == io.EOF {
				return
			}
		}
		t.Fatal("reader did not end")
	})
}

type failingReader struct {
	r   io.Reader
	n   int
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	if len(p) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}

func TestEdgeEndings(t *testing.T) {
	z := encode(t, 6)
	plain := encode(t, 0)
	hdrLen := len(plain) - 500*64

	// A closed capture that received nothing holds an empty zlib stream.
	var buf bytes.Buffer
	w, _ := ftfile.NewWriter(&buf, ftfile.WriterConfig{ExportVersion: 5, Level: 6, Capture: true, Flags: ftfile.FlagDone})
	w.Close()
	if n, skips, err := decodeBytes(buf.Bytes()); n != 0 || len(skips) != 0 || err != nil {
		t.Fatalf("empty zlib stream: n=%d skips=%+v err=%v", n, skips, err)
	}
	if got := buf.Len() - hdrLen; got != 8 {
		t.Errorf("empty zlib stream is %d bytes, flow-tools writes 8", got)
	}
	// Compressed, DONE, but no data at all: 0 records, nothing to report
	// when the header's FLOW_COUNT is 0; a count of 500 is a file cut
	// right after its header.
	emptyDone := writeStream(t, ftfile.WriterConfig{ExportVersion: 5, Capture: true, Flags: ftfile.FlagDone | ftfile.FlagCompress}, nil)
	if n, skips, err := decodeBytes(emptyDone); n != 0 || len(skips) != 0 || err != nil || len(emptyDone) != hdrLen {
		t.Fatalf("complete header-only, count 0: n=%d skips=%+v err=%v", n, skips, err)
	}
	if n, skips, err := decodeBytes(z[:hdrLen]); n != 0 || len(skips) != 1 || skips[0].Reason != "count-mismatch" || skips[0].Offset != int64(hdrLen) || err != nil {
		t.Fatalf("complete header-only, count 500: n=%d skips=%+v err=%v", n, skips, err)
	}
	// Cut inside the 2-byte zlib header.
	if n, skips, err := decodeBytes(z[:hdrLen+1]); n != 0 || len(skips) != 1 || skips[0].Reason != "truncated" || skips[0].Offset != int64(hdrLen+1) || err != nil {
		t.Fatalf("cut zlib header: n=%d skips=%+v err=%v", n, skips, err)
	}
	// Not zlib at all.
	notz := append(append([]byte(nil), z[:hdrLen]...), bytes.Repeat([]byte{0x55}, 300)...)
	if n, skips, err := decodeBytes(notz); n != 0 || len(skips) != 1 || skips[0].Reason != "corrupt" || skips[0].Offset != int64(hdrLen) || err != nil {
		t.Fatalf("not zlib: n=%d skips=%+v err=%v", n, skips, err)
	}
	// Uncompressed file ending exactly on a record boundary: no report for
	// a stream (no count); a closed file's FLOW_COUNT says records are missing.
	stream := writeStream(t, ftfile.WriterConfig{ExportVersion: 5}, sampleRecords())
	streamHdr := len(stream) - 500*64
	if n, skips, err := decodeBytes(stream[:streamHdr+77*64]); n != 77 || len(skips) != 0 || err != nil {
		t.Fatalf("boundary, stream: n=%d skips=%+v err=%v", n, skips, err)
	}
	if n, skips, err := decodeBytes(plain[:hdrLen+77*64]); n != 77 || len(skips) != 1 || skips[0].Reason != "count-mismatch" || skips[0].Offset != int64(hdrLen+77*64) || err != nil {
		t.Fatalf("boundary, closed: n=%d skips=%+v err=%v", n, skips, err)
	}
	// A failing disk is an error naming the file, not a skip.
	for name, b := range map[string][]byte{"plain": plain, "zlib": z} {
		ioErr := errors.New("input/output error")
		fr := &failingReader{r: bytes.NewReader(b), n: len(b) / 2, err: ioErr}
		err := ftfile.Format{}.Decode("disk.ft", fr, func(flow.Batch) error { return nil }, func(flow.Skip) {})
		if !errors.Is(err, ioErr) || !strings.Contains(err.Error(), "disk.ft") {
			t.Errorf("%s: I/O error became %v", name, err)
		}
	}
	// An error from emit stops decoding and comes back as is.
	stop := errors.New("stop")
	if err := (ftfile.Format{}).Decode("x.ft", bytes.NewReader(z), func(flow.Batch) error { return stop }, func(flow.Skip) {}); err != stop {
		t.Errorf("emit error: %v", err)
	}
}

func TestFormatSniffAndBatches(t *testing.T) {
	f := ftfile.Format{}
	if f.Name() != "flow-tools" || !f.Sniff([]byte{0xCF, 0x10, 1, 3}, "x") || f.Sniff([]byte("#:unix_secs"), "x.csv") || f.Sniff(nil, "x") {
		t.Fatal("Name/Sniff")
	}
	var buf bytes.Buffer
	w, _ := ftfile.NewWriter(&buf, ftfile.WriterConfig{ExportVersion: 5, Level: 1})
	recs := sampleRecords()
	for i := 0; i < 20; i++ {
		w.Write(recs)
	}
	w.Close()
	var sizes []int
	total := 0
	err := f.Decode("b.ft", &buf, func(b flow.Batch) error { sizes = append(sizes, len(b)); total += len(b); return nil }, func(s flow.Skip) { t.Errorf("skip %+v", s) })
	if err != nil || total != 10000 || len(sizes) != 3 || sizes[0] != 4096 {
		t.Fatalf("batches %v (%d), err %v", sizes, total, err)
	}
}
