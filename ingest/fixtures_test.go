package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/ingest/ftcsv"
)

func sharedTestdata(t testing.TB) string {
	t.Helper()
	s := filepath.Join("..", "..", "shared", "testdata")
	if _, err := os.Stat(filepath.Join(s, "README.md")); err != nil {
		t.Skip("shared fixtures absent")
	}
	return s
}

func runCSV(t *testing.T, paths []string, opt Options) (string, *Summary) {
	t.Helper()
	var buf bytes.Buffer
	w := ftcsv.NewWriter(&buf, 0x000000000FFF37EF)
	sum, err := Run(context.Background(), paths, opt, func(b flow.Batch) error { return w.Write(b) })
	if err != nil {
		t.Fatal(err)
	}
	w.Flush()
	return buf.String(), sum
}

// The capture tree replayed in order equals flow-merge's order (for this
// tree also flow-cat's, which the fixture CSV was made from), for every -j,
// and the CSV export of the tree reads back to the same stream.
func TestCaptureTreeOrderAllJobs(t *testing.T) {
	td := sharedTestdata(t)
	f, err := os.Open(filepath.Join(td, "csv", "ft-tree.export-f2.csv.gz"))
	if err != nil {
		t.Fatal(err)
	}
	zr, _ := gzip.NewReader(f)
	want, _ := io.ReadAll(zr)
	f.Close()
	for _, j := range []int{1, 2, 3} {
		got, sum := runCSV(t, []string{filepath.Join(td, "ft-tree")}, Options{Jobs: j, Lookahead: 2})
		if got != string(want) {
			t.Fatalf("-j %d: order differs from flow-merge", j)
		}
		if sum.Flows != 72361 || sum.FilesRead != 12 || sum.Partial() || len(sum.Skips) != 1 || sum.Skips[0].Reason != "partial-file" {
			t.Fatalf("-j %d: summary %+v", j, sum)
		}
	}
	got, _ := runCSV(t, []string{filepath.Join(td, "csv", "ft-tree.export-f2.csv.gz")}, Options{})
	if got != string(want) {
		t.Fatal("CSV input does not read back to the same flows")
	}
	// --include-partial: the killed file's 2,857 records and its cut.
	_, sum := runCSV(t, []string{filepath.Join(td, "ft-tree")}, Options{IncludePartial: true})
	if sum.Flows != 72361+2857 || !sum.Partial() {
		t.Fatalf("include-partial: %+v", sum)
	}
	// A flow-cat stream on standard input, in stream order.
	stream, _ := os.ReadFile(filepath.Join(td, "formats", "v5.flow-cat-stream.ft"))
	_, sum = runCSV(t, []string{"-"}, Options{Stdin: bytes.NewReader(stream)})
	if sum.Flows != 1573 {
		t.Fatalf("stdin: %+v", sum)
	}
}

// "-" among files: the files before it are merged, then the stream follows
// in stream order, then the files after it.
func TestRunStdinBetweenFiles(t *testing.T) {
	td := sharedTestdata(t)
	withFake(t)
	dir := t.TempDir()
	a := writeFake(t, dir, "a", "9999999999999 1", "1 2")
	c := writeFake(t, dir, "c", "5 3")
	stream, err := os.ReadFile(filepath.Join(td, "formats", "v5.flow-cat-stream.ft"))
	if err != nil {
		t.Fatal(err)
	}
	var got []flow.Record
	sum, err := Run(context.Background(), []string{a, "-", c}, Options{Stdin: bytes.NewReader(stream)}, func(b flow.Batch) error {
		got = append(got, b...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1573+3 || sum.FilesSeen != 3 || sum.FilesRead != 3 {
		t.Fatalf("%d flows, summary %+v", len(got), sum)
	}
	if got[0].Packets != 2 || got[1].Packets != 1 || got[len(got)-1].Packets != 3 {
		t.Fatalf("groups out of place: first %+v, last %+v", got[:2], got[len(got)-1])
	}
	// The stream keeps its own order (it is not sorted by End).
	var want []flow.Record
	if _, err := Run(context.Background(), []string{"-"}, Options{Stdin: bytes.NewReader(stream)}, func(b flow.Batch) error {
		want = append(want, b...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if got[2+i] != want[i] {
			t.Fatalf("stream record %d differs", i)
		}
	}
	if _, err := Run(context.Background(), []string{"-", a, "-"}, Options{Stdin: bytes.NewReader(stream)}, func(flow.Batch) error { return nil }); err == nil {
		t.Fatal(`"-" twice accepted`)
	}
}
