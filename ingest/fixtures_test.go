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
