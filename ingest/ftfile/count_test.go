package ftfile_test

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/ingest/ftfile"
	"github.com/flowsift/flowsift/internal/fixture"
)

// A closed file (DONE flag) is read up to its header's FLOW_COUNT and no
// further; data that ends before it, or goes on after it, is reported as
// count-mismatch. Files without DONE are read as before.

// realCapture is a closed ft-tree file: its header bytes, header and
// inflated records.
func realCapture(t *testing.T, name string) ([]byte, *ftfile.Header, []byte) {
	t.Helper()
	b, err := os.ReadFile(fixture.FlowTools(t, "ft-tree", "2026", "2026-11", "2026-11-20", name))
	if err != nil {
		t.Fatal(err)
	}
	h, err := ftfile.ReadHeader(bytes.NewReader(b))
	if err != nil || h.Flags != ftfile.FlagDone|ftfile.FlagCompress {
		t.Fatalf("%s: header %+v, %v", name, h, err)
	}
	zr, err := zlib.NewReader(bytes.NewReader(b[h.HeaderLen:]))
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil || len(data) != int(h.FlowCount)*64 {
		t.Fatalf("%s: %d inflated bytes for %d flows, %v", name, len(data), h.FlowCount, err)
	}
	return b[:h.HeaderLen], h, data
}

func deflate(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&buf, 6)
	zw.Write(data)
	zw.Close()
	return buf.Bytes()
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// decodeRecs is decodeBytes keeping the records.
func decodeRecs(t *testing.T, b []byte) ([]flow.Record, []flow.Skip) {
	t.Helper()
	var recs []flow.Record
	var skips []flow.Skip
	err := ftfile.Format{}.Decode("x.ft", bytes.NewReader(b), func(bt flow.Batch) error { recs = append(recs, bt...); return nil },
		func(s flow.Skip) { skips = append(skips, s) })
	if err != nil {
		t.Fatal(err)
	}
	return recs, skips
}

func sameRecords(t *testing.T, what string, got, want []flow.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d records, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: record %d differs:\n got %+v\nwant %+v", what, i, got[i], want[i])
		}
	}
}

func oneSkip(t *testing.T, what string, skips []flow.Skip, reason string, off int64, detail string) {
	t.Helper()
	if len(skips) != 1 || skips[0].Reason != reason || skips[0].Offset != off || skips[0].Detail != detail || skips[0].Path != "x.ft" {
		t.Fatalf("%s: skips %+v, want one %s at %d: %q", what, skips, reason, off, detail)
	}
}

// Fewer records than the header's count: a file cut on a record boundary,
// a finished zlib stream with fewer records, a file cut right after its
// header. Every record is delivered and the skip gives both counts.
func TestClosedFileShortOfItsCount(t *testing.T) {
	hdr, h, data := realCapture(t, "ft-v05.2026-11-20.101500+0000")
	all, _ := decodeRecs(t, cat(hdr, deflate(t, data)))
	if len(all) != 5555 || h.FlowCount != 5555 {
		t.Fatalf("fixture: %d records, header %d", len(all), h.FlowCount)
	}

	file := cat(hdr, deflate(t, data[:5550*64]))
	recs, skips := decodeRecs(t, file)
	sameRecords(t, "5550 of 5555, compressed", recs, all[:5550])
	oneSkip(t, "5550 of 5555, compressed", skips, "count-mismatch", int64(len(file)), "header FLOW_COUNT 5555, 5550 records")

	// The real header alone, and with the empty zlib stream of an idle capture.
	recs, skips = decodeRecs(t, hdr)
	sameRecords(t, "header only, compressed", recs, nil)
	oneSkip(t, "header only, compressed", skips, "count-mismatch", int64(len(hdr)), "header FLOW_COUNT 5555, 0 records")
	file = cat(hdr, deflate(t, nil))
	recs, skips = decodeRecs(t, file)
	sameRecords(t, "empty zlib stream", recs, nil)
	oneSkip(t, "empty zlib stream", skips, "count-mismatch", int64(len(file)), "header FLOW_COUNT 5555, 0 records")

	// Uncompressed, little- and big-endian: cut on a record boundary and
	// right after the header.
	for _, be := range []bool{false, true} {
		plain := writeStream(t, ftfile.WriterConfig{ExportVersion: 5, BigEndian: be, Capture: true, Flags: ftfile.FlagDone, FlowCount: 500}, sampleRecords())
		hl := len(plain) - 500*64
		full, skips := decodeRecs(t, plain)
		if len(full) != 500 || len(skips) != 0 {
			t.Fatalf("whole file: %d records, skips %+v", len(full), skips)
		}
		recs, skips = decodeRecs(t, plain[:hl+300*64])
		sameRecords(t, "cut on a record boundary", recs, full[:300])
		oneSkip(t, "cut on a record boundary", skips, "count-mismatch", int64(hl+300*64), "header FLOW_COUNT 500, 300 records")
		recs, skips = decodeRecs(t, plain[:hl])
		sameRecords(t, "cut after the header", recs, nil)
		oneSkip(t, "cut after the header", skips, "count-mismatch", int64(hl), "header FLOW_COUNT 500, 0 records")
	}

	// Without DONE nothing changes: an open capture (count 0) and a stream
	// cut on a boundary are read silently.
	for _, cfg := range []ftfile.WriterConfig{
		{ExportVersion: 5, Capture: true},
		{ExportVersion: 5},
		{ExportVersion: 5, Capture: true, Flags: ftfile.FlagPreloaded | ftfile.FlagStreaming, FlowCount: 500},
	} {
		plain := writeStream(t, cfg, sampleRecords())
		hl := len(plain) - 500*64
		if recs, skips := decodeRecs(t, plain[:hl+300*64]); len(recs) != 300 || len(skips) != 0 {
			t.Fatalf("flags %#x: %d records, skips %+v", cfg.Flags, len(recs), skips)
		}
	}
}

// More records than the header's count: the promised ones are delivered,
// the rest is reported and not read.
func TestClosedFileWithMoreRecordsThanItsCount(t *testing.T) {
	hdr, h, data := realCapture(t, "ft-v05.2026-11-20.100000+0000")
	_, _, next := realCapture(t, "ft-v05.2026-11-20.101500+0000")
	all, _ := decodeRecs(t, cat(hdr, deflate(t, data)))
	if len(all) != 4620 || h.FlowCount != 4620 {
		t.Fatalf("fixture: %d records, header %d", len(all), h.FlowCount)
	}
	file := cat(hdr, deflate(t, cat(data, next)))
	recs, skips := decodeRecs(t, file)
	sameRecords(t, "4620 + 5555 records", recs, all)
	if len(skips) != 1 || skips[0].Reason != "count-mismatch" || skips[0].Detail != "header FLOW_COUNT 4620, more records follow; not read" ||
		skips[0].Offset <= int64(len(hdr)) || skips[0].Offset >= int64(len(file)) {
		t.Fatalf("4620 + 5555 records: skips %+v (file %d bytes)", skips, len(file))
	}

	for _, level := range []int{0, 6} {
		b := writeStream(t, ftfile.WriterConfig{ExportVersion: 5, Level: level, Capture: true, Flags: ftfile.FlagDone, FlowCount: 400}, sampleRecords())
		recs, skips := decodeRecs(t, b)
		if len(recs) != 400 || len(skips) != 1 || skips[0].Reason != "count-mismatch" || skips[0].Detail != "header FLOW_COUNT 400, more records follow; not read" {
			t.Fatalf("level %d: %d records, skips %+v", level, len(recs), skips)
		}
		if hl := len(b) - 500*64; level == 0 && skips[0].Offset != int64(hl+400*64) {
			t.Fatalf("uncompressed: offset %d, want %d", skips[0].Offset, hl+400*64)
		}
	}

	// A closed file whose count is 0 holds no records: what follows is reported.
	b := writeStream(t, ftfile.WriterConfig{ExportVersion: 5, Capture: true, Flags: ftfile.FlagDone}, sampleRecords())
	recs, skips = decodeRecs(t, b)
	oneSkip(t, "count 0", skips, "count-mismatch", int64(len(b)-500*64), "header FLOW_COUNT 0, more records follow; not read")
	if len(recs) != 0 {
		t.Fatalf("count 0: %d records", len(recs))
	}

	// Less than a record after the count is a cut record, as before.
	b = writeStream(t, ftfile.WriterConfig{ExportVersion: 5, Capture: true, Flags: ftfile.FlagDone, FlowCount: 500}, sampleRecords())
	recs, skips = decodeRecs(t, cat(b, make([]byte, 10)))
	oneSkip(t, "fragment", skips, "truncated", int64(len(b)), "file ends inside a record: 500 whole records read, 10 bytes dropped; header FLOW_COUNT 500")
	if len(recs) != 500 {
		t.Fatalf("fragment: %d records", len(recs))
	}

	// Without DONE every record is read.
	b = writeStream(t, ftfile.WriterConfig{ExportVersion: 5, Level: 6}, sampleRecords())
	if recs, skips := decodeRecs(t, b); len(recs) != 500 || len(skips) != 0 {
		t.Fatalf("stream: %d records, skips %+v", len(recs), skips)
	}
}

// A cut zlib stream of a closed file is one problem, one skip: truncated,
// naming the header's count, and no count-mismatch besides.
func TestClosedFileCutStreamIsOneSkip(t *testing.T) {
	hdr, _, data := realCapture(t, "ft-v05.2026-11-20.101500+0000")
	file := cat(hdr, deflate(t, data))
	all, _ := decodeRecs(t, file)
	cut := file[:len(file)/2]
	recs, skips := decodeRecs(t, cut)
	if len(recs) == 0 || len(recs) >= 5555 {
		t.Fatalf("%d records", len(recs))
	}
	sameRecords(t, "cut stream", recs, all[:len(recs)])
	if len(skips) != 1 || skips[0].Reason != "truncated" || skips[0].Offset != int64(len(cut)) ||
		!strings.HasPrefix(skips[0].Detail, "zlib stream cut short") || !strings.HasSuffix(skips[0].Detail, "; header FLOW_COUNT 5555") {
		t.Fatalf("skips %+v", skips)
	}
}

// countingReader counts the bytes read from a file.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// A closed uncompressed file followed by a 256 MB sparse hole (a file
// extended after a crash): the reader stops at the count and reads the
// header, the records and at most one 64 KiB buffer of the hole.
func TestClosedFileBeforeASparseHole(t *testing.T) {
	for _, tc := range []struct {
		name  string
		count uint32
		recs  []flow.Record
	}{
		{"records then hole", 100, sampleRecords()[:100]},
		{"header then hole", 4620, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := writeStream(t, ftfile.WriterConfig{ExportVersion: 5, Capture: true, Flags: ftfile.FlagDone, FlowCount: tc.count, Hostname: "nfcap01"}, tc.recs)
			hl := len(b) - len(tc.recs)*64
			path := filepath.Join(t.TempDir(), "ft-v05.2026-11-20.100000+0000")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.Write(b); err != nil {
				t.Fatal(err)
			}
			if err := f.Truncate(256 << 20); err != nil {
				t.Fatal(err)
			}
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			cr := &countingReader{r: f}
			n := 0
			var skips []flow.Skip
			var first []flow.Record
			err = ftfile.Format{}.Decode(path, cr, func(bt flow.Batch) error {
				if n < len(tc.recs) {
					first = append(first, bt[:min(len(bt), len(tc.recs)-n)]...)
				}
				n += len(bt)
				return nil
			}, func(s flow.Skip) { skips = append(skips, s) })
			if err != nil {
				t.Fatal(err)
			}
			want := int64(hl) + int64(tc.count)*64
			if n != int(tc.count) || len(skips) != 1 || skips[0].Reason != "count-mismatch" || skips[0].Offset != want ||
				skips[0].Detail != fmt.Sprintf("header FLOW_COUNT %d, more records follow; not read", tc.count) {
				t.Fatalf("%d records, skips %+v", n, skips)
			}
			if len(tc.recs) > 0 {
				written, _ := decodeRecs(t, b)
				sameRecords(t, "records before the hole", first, written)
			}
			if cr.n > want+64+64<<10 {
				t.Errorf("read %d bytes of the 256 MB file, want at most %d", cr.n, want+64+64<<10)
			}
		})
	}
}
