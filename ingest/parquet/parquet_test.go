package parquet

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/ingest/ftcsv"
	"github.com/flowsift/flowsift/internal/fixture"
)

// fixtureRecords reads flow-export CSV fixtures with ftcsv (every field a
// version has, raw uptime fields included).
func fixtureRecords(t testing.TB, pattern string) []flow.Record {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(fixture.FlowTools(t), pattern))
	if len(files) == 0 {
		t.Fatalf("no fixtures match %s", pattern)
	}
	var recs []flow.Record
	for _, p := range files {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		err = ftcsv.Format{Strict: true}.Decode(p, f, func(b flow.Batch) error {
			recs = append(recs, b...)
			return nil
		}, func(s flow.Skip) { t.Errorf("skip %+v", s) })
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return recs
}

func writeAll(t testing.TB, recs []flow.Record, opt WriterOptions) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, opt)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(recs); i += 1000 {
		if err := w.Write(recs[i:min(i+1000, len(recs))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readAll(t testing.TB, r interface{ Read([]byte) (int, error) }) []flow.Record {
	t.Helper()
	var out []flow.Record
	err := Format{}.Decode("mem.parquet", r, func(b flow.Batch) error {
		out = append(out, b...)
		return nil
	}, func(s flow.Skip) { t.Errorf("skip %+v", s) })
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRoundTripFixtures(t *testing.T) {
	recs := fixtureRecords(t, "formats/v*.export-f2.csv.gz")
	// IPv6 and zero addresses must survive too.
	extra := recs[0]
	extra.Src = netipMust("2001:db8::1")
	extra.Dst = netipMust("::ffff:10.0.0.1")
	extra.Nexthop = flow.AddrFromU32(0)
	recs = append(recs, extra)
	// A small row group makes the reader cross several groups.
	data := writeAll(t, recs, WriterOptions{RowGroup: 4000})
	if !(Format{}).Sniff(data[:8], "x") {
		t.Fatal("sniff")
	}
	for _, name := range []string{"bytes.Reader", "plain reader"} {
		var got []flow.Record
		if name == "bytes.Reader" {
			got = readAll(t, bytes.NewReader(data))
		} else {
			got = readAll(t, struct{ *bytes.Buffer }{bytes.NewBuffer(data)})
		}
		if len(got) != len(recs) {
			t.Fatalf("%s: %d records, want %d", name, len(got), len(recs))
		}
		for i := range recs {
			if got[i] != recs[i] {
				t.Fatalf("%s: record %d:\n got %+v\nwant %+v", name, i, got[i], recs[i])
			}
		}
	}
	// And from a file on disk (io.ReaderAt path).
	p := filepath.Join(t.TempDir(), "x.parquet")
	os.WriteFile(p, data, 0o644)
	f, _ := os.Open(p)
	defer f.Close()
	if got := readAll(t, f); len(got) != len(recs) || got[len(got)-1] != extra {
		t.Fatalf("file: %d records", len(got))
	}
}

func TestNotFlowsiftParquet(t *testing.T) {
	err := Format{}.Decode("junk.parquet", bytes.NewReader([]byte("PAR1 not really")), func(flow.Batch) error { return nil }, func(flow.Skip) {})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("junk.parquet")) {
		t.Fatalf("want error naming the file, got %v", err)
	}
}
