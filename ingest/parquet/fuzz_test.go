package parquet

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/parquet/file"

	"github.com/flowsift/flowsift/flow"
)

// FuzzDecode: no file makes the reader panic or die. A file that cannot be
// read at all is an error with nothing emitted (the Format contract);
// otherwise every skip counts at least one row. testdata/fuzz/FuzzDecode
// holds the inputs that made arrow-go panic (six), ask for 82 GB through
// the stored Arrow schema (arrow-schema-82gb, which killed the process) or
// allocate 16 GB for a column chunk (chunk-length-16gb), before Decode
// caught panics, hid the stored schema and checked chunk bounds.
func FuzzDecode(f *testing.F) {
	recs := fixtureRecords(f, "formats/v5.export-f2.csv.gz")
	good := writeAll(f, recs[:min(len(recs), 50)], WriterOptions{})
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte("PAR1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		emitted := 0
		err := Format{}.Decode("fuzz.parquet", bytes.NewReader(b), func(batch flow.Batch) error {
			emitted += len(batch)
			return nil
		}, func(s flow.Skip) {
			if s.Count < 1 || s.Path != "fuzz.parquet" {
				t.Errorf("skip %+v", s)
			}
		})
		if err != nil && emitted > 0 {
			t.Errorf("error after %d rows emitted: %v", emitted, err)
		}
		if err != nil && !strings.Contains(err.Error(), "fuzz.parquet") {
			t.Errorf("error does not name the file: %v", err)
		}
	})
}

// TestDamagedRowGroupIsSkipped: damage in one row group loses that group
// alone, reported as one "corrupt" skip counting its rows, and the groups
// after it are still read; a file none of whose rows can be read is
// unreadable.
func TestDamagedRowGroupIsSkipped(t *testing.T) {
	recs := fixtureRecords(t, "formats/v5.export-f2.csv.gz")
	for len(recs) < 150 {
		recs = append(recs, recs...)
	}
	recs = recs[:150]
	good := writeAll(t, recs, WriterOptions{RowGroup: 50})
	pf, err := file.NewParquetReader(bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if pf.NumRowGroups() != 3 {
		t.Fatalf("%d row groups, want 3", pf.NumRowGroups())
	}
	damage := func(b []byte, g int) []byte {
		b = bytes.Clone(b)
		cc, err := pf.MetaData().RowGroup(g).ColumnChunk(0)
		if err != nil {
			t.Fatal(err)
		}
		at := cc.DataPageOffset()
		for i := at; i < at+16; i++ {
			b[i] = 0xFF // the page header: no thrift struct reads this
		}
		return b
	}
	read := func(name string, b []byte) ([]flow.Record, []flow.Skip, error) {
		var got []flow.Record
		var skips []flow.Skip
		err := Format{}.Decode(name, bytes.NewReader(b), func(b flow.Batch) error {
			got = append(got, b...)
			return nil
		}, func(s flow.Skip) { skips = append(skips, s) })
		return got, skips, err
	}

	got, skips, err := read("middle.parquet", damage(good, 1))
	if err != nil {
		t.Fatalf("damage in the middle row group: %v", err)
	}
	if len(got) != 100 || len(skips) != 1 || skips[0].Reason != "corrupt" || skips[0].Count != 50 || skips[0].Line != 51 ||
		skips[0].Path != "middle.parquet" || !strings.Contains(skips[0].Detail, "row group 1: rows 51-100 not read") {
		t.Fatalf("got %d rows and skips %+v; want 100 rows and one corrupt skip of rows 51-100", len(got), skips)
	}
	if got[49].Start != recs[49].Start || got[50].Start != recs[100].Start || got[50].Src != recs[100].Src {
		t.Fatalf("rows around the lost group: %v %v, want rows 50 and 101", got[49].Start, got[50].Start)
	}

	got, _, err = read("all.parquet", damage(damage(damage(good, 0), 1), 2))
	if err == nil || len(got) != 0 || !strings.Contains(err.Error(), "all.parquet") || !strings.Contains(err.Error(), "no row could be read") {
		t.Fatalf("every row group damaged: %d rows, err %v", len(got), err)
	}
}

// TestChunkLengthOutsideFile: a footer whose column chunk length runs past
// the end of the file (the fuzzed file kept in the corpus claims 16 GB in
// 12 kB) is refused before arrow-go allocates that length.
func TestChunkLengthOutsideFile(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzDecode", "chunk-length-16gb"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(string(raw), "\n", 3)
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var skips []flow.Skip
	err = Format{}.Decode("long.parquet", strings.NewReader(s), func(flow.Batch) error { return nil }, func(sk flow.Skip) { skips = append(skips, sk) })
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 64<<20 {
		t.Errorf("decoding allocated %d MB", got>>20)
	}
	if err == nil || !strings.Contains(err.Error(), "outside the file") {
		t.Errorf("err = %v, skips %+v; want the file refused for a chunk outside it", err, skips)
	}
}

// TestEmitPanicIsNotCaught: a panic in the caller's emit is a bug, not a
// damaged file, and must not be reported as one.
func TestEmitPanicIsNotCaught(t *testing.T) {
	recs := fixtureRecords(t, "formats/v5.export-f2.csv.gz")
	good := writeAll(t, recs, WriterOptions{})
	boom := errors.New("boom")
	defer func() {
		if e := recover(); e != boom {
			t.Fatalf("recovered %v, want the emit panic", e)
		}
	}()
	_ = Format{}.Decode("x.parquet", bytes.NewReader(good), func(flow.Batch) error { panic(boom) }, func(flow.Skip) {})
	t.Fatal("emit's panic was swallowed")
}
