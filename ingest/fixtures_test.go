package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/ingest/ftcsv"
	"github.com/flowsift/flowsift/ingest/parquet"
	"github.com/flowsift/flowsift/internal/fixture"
)

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
	td := fixture.FlowTools(t)
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
	td := fixture.FlowTools(t)
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

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func countFlows(t *testing.T, paths []string, opt Options) (uint64, *Summary) {
	t.Helper()
	sum, err := Run(context.Background(), paths, opt, func(flow.Batch) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	return sum.Flows, sum
}

// A tree with a garbage file that looks like flow-tools, a capture file
// renamed without a time (ordered by its header's CAP_START) and the
// killed tmp- file: the garbage is skipped and named, the rest is read in
// the same order as the original tree, and --from/--to pick files.
func TestCaptureTreeGarbageRenamedAndWindow(t *testing.T) {
	td := fixture.FlowTools(t)
	src := filepath.Join(td, "ft-tree", "2026", "2026-11", "2026-11-20")
	names := []string{"ft-v05.2026-11-20.100000+0000", "ft-v05.2026-11-20.101500+0000", "ft-v05.2026-11-20.103000+0000", "ft-v05.2026-11-20.104500+0000"}
	per := map[string]uint64{}
	for _, n := range names {
		per[n], _ = countFlows(t, []string{filepath.Join(src, n)}, Options{})
	}
	want, _ := runCSV(t, []string{filepath.Join(src, names[0]), filepath.Join(src, names[1]), filepath.Join(src, names[2]), filepath.Join(src, names[3])}, Options{})

	dir := t.TempDir()
	copyFile(t, filepath.Join(src, names[0]), filepath.Join(dir, "a", names[0]))
	copyFile(t, filepath.Join(src, names[1]), filepath.Join(dir, "b", "c", names[1]))
	copyFile(t, filepath.Join(src, names[2]), filepath.Join(dir, "renamed-capture")) // no time in the name
	copyFile(t, filepath.Join(src, names[3]), filepath.Join(dir, names[3]))
	garbage := filepath.Join(dir, "ft-v05.2026-11-20.101000+0000")
	os.WriteFile(garbage, append([]byte{0xCF, 0x10, 0x01, 0x09}, bytes.Repeat([]byte{0xAB}, 300)...), 0o644)

	for _, j := range []int{1, 2} {
		got, sum := runCSV(t, []string{dir}, Options{Jobs: j})
		if got != want {
			t.Fatalf("-j %d: tree with garbage read differently from its good files", j)
		}
		if sum.FilesRead != 4 || len(sum.Skips) != 1 || sum.Skips[0].Path != garbage || !sum.Skips[0].Fatal || !sum.Partial() {
			t.Fatalf("-j %d: summary %+v", j, sum)
		}
	}
	os.Remove(garbage)

	// [10:20, 10:50) overlaps the files of 10:15, 10:30 and 10:45 (each
	// covers the time up to the next file's); with the default export
	// delay (15 minutes) the 11:00 file may hold flows that ended before
	// 10:50 too, and is read; without a delay it is not.
	from := time.Date(2026, 11, 20, 10, 20, 0, 0, time.UTC)
	to := time.Date(2026, 11, 20, 11, 50, 0, 0, time.FixedZone("CET", 3600)) // 10:50 UTC
	at11, _ := countFlows(t, []string{filepath.Join(src, "ft-v05.2026-11-20.110000+0000")}, Options{})
	n, sum := countFlows(t, []string{filepath.Join(td, "ft-tree")}, Options{From: from, To: to})
	if n != per[names[1]]+per[names[2]]+per[names[3]]+at11 {
		t.Fatalf("--from 10:20 --to 10:50: %d flows, summary %+v", n, sum)
	}
	none := time.Duration(-1) // no export delay: files by their own period
	n, sum = countFlows(t, []string{filepath.Join(td, "ft-tree")}, Options{From: from, To: to, ExportDelay: none})
	if n != per[names[1]]+per[names[2]]+per[names[3]] {
		t.Fatalf("--from 10:20 --to 10:50, no delay: %d flows, summary %+v", n, sum)
	}
	// --to is exclusive: a file named exactly at --to is not read.
	n, _ = countFlows(t, []string{filepath.Join(td, "ft-tree")}, Options{To: time.Date(2026, 11, 20, 10, 15, 0, 0, time.UTC), ExportDelay: none})
	if n != per[names[0]] {
		t.Fatalf("--to 10:15: %d flows", n)
	}
	// The header's capture start places a renamed file in a window too.
	n, _ = countFlows(t, []string{dir}, Options{From: time.Date(2026, 11, 20, 10, 31, 0, 0, time.UTC), To: time.Date(2026, 11, 20, 10, 44, 0, 0, time.UTC), ExportDelay: none})
	if n != per[names[2]] {
		t.Fatalf("renamed file by CAP_START: %d flows", n)
	}
	n, _ = countFlows(t, []string{dir}, Options{From: time.Date(2026, 11, 20, 10, 50, 0, 0, time.UTC)})
	if n != per[names[3]] {
		t.Fatalf("renamed file not excluded by CAP_START: %d flows", n)
	}
}

// --include-partial reads the killed capture's whole records and reports
// its cut once, with the file and byte offset.
func TestCaptureTreeIncludePartial(t *testing.T) {
	td := fixture.FlowTools(t)
	tmp := filepath.Join(td, "ft-tree", "2026", "2026-11", "2026-11-20", "tmp-v05.2026-11-20.130000+0000")
	for _, paths := range [][]string{{tmp}, {filepath.Join(td, "ft-tree")}} {
		n, sum := countFlows(t, paths, Options{IncludePartial: len(paths[0]) != len(tmp)})
		var cuts []flow.Skip
		for _, k := range sum.Skips {
			if k.Path == tmp {
				cuts = append(cuts, k)
			}
		}
		if len(cuts) != 1 || cuts[0].Fatal || cuts[0].Offset <= 0 || !sum.Partial() {
			t.Fatalf("%v: skips %+v", paths, sum.Skips)
		}
		if len(paths[0]) == len(tmp) && n != 2857 {
			t.Fatalf("tmp- file: %d flows, want 2857", n)
		}
		if len(paths[0]) != len(tmp) && n != 72361+2857 {
			t.Fatalf("tree: %d flows", n)
		}
	}
}

// A Parquet file found in a tree is sniffed and merged like any other
// input: the tree of two capture files equals the same flows with one of
// them converted to Parquet.
func TestParquetInTree(t *testing.T) {
	td := fixture.FlowTools(t)
	src := filepath.Join(td, "ft-tree", "2026", "2026-11", "2026-11-20")
	a, b := filepath.Join(src, "ft-v05.2026-11-20.100000+0000"), filepath.Join(src, "ft-v05.2026-11-20.101500+0000")
	want, _ := runCSV(t, []string{a, b}, Options{})

	dir := t.TempDir()
	var recs []flow.Record
	if _, err := Run(context.Background(), []string{b}, Options{}, func(bt flow.Batch) error { recs = append(recs, bt...); return nil }); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "zz-later.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := parquet.NewWriter(f, parquet.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(recs); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	copyFile(t, a, filepath.Join(dir, filepath.Base(a)))
	got, sum := runCSV(t, []string{dir}, Options{Jobs: 2})
	if got != want || sum.FilesRead != 2 || sum.Partial() {
		t.Fatalf("tree with Parquet differs; summary %+v", sum)
	}
}

// A named pipe (or <(flow-cat ...)) given as a path is read once, in
// stream order, with the bytes sniffed for its format put back: before,
// the sniff consumed the first 512 bytes and the decoder read the rest.
// Two pipes, a flow-tools stream and the same flows as CSV, each give all
// their flows.
func TestRunNamedPipes(t *testing.T) {
	td := fixture.FlowTools(t)
	stream, err := os.ReadFile(filepath.Join(td, "formats", "v5.flow-cat-stream.ft"))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := runCSV(t, []string{"-"}, Options{Stdin: bytes.NewReader(stream)})
	dir := t.TempDir()
	ftPipe, csvPipe := filepath.Join(dir, "ft.pipe"), filepath.Join(dir, "csv.pipe")
	for _, p := range []string{ftPipe, csvPipe} {
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Skipf("no named pipes here: %v", err)
		}
	}
	feed := func(path string, data []byte) {
		go func() {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				return
			}
			f.Write(data)
			f.Close()
		}()
	}
	feed(ftPipe, stream)
	feed(csvPipe, []byte(want))
	// Reading a pipe twice blocks forever in the second open: fail, not hang.
	type result struct {
		got string
		sum *Summary
	}
	done := make(chan result, 1)
	go func() {
		var buf bytes.Buffer
		w := ftcsv.NewWriter(&buf, 0x000000000FFF37EF)
		sum, err := Run(context.Background(), []string{ftPipe, csvPipe}, Options{}, func(b flow.Batch) error { return w.Write(b) })
		if err != nil {
			t.Error(err)
		}
		w.Flush()
		done <- result{buf.String(), sum}
	}()
	var got string
	var sum *Summary
	select {
	case r := <-done:
		got, sum = r.got, r.sum
	case <-time.After(30 * time.Second):
		t.Fatal("reading the named pipes hung")
	}
	rows := want[strings.IndexByte(want, '\n')+1:] // one header line for the run
	if got != want+rows {
		t.Fatalf("pipes gave %d bytes of CSV, want twice %d", len(got), len(want))
	}
	if sum.Flows != 2*1573 || sum.FilesRead != 2 || sum.Partial() {
		t.Fatalf("summary %+v", sum)
	}
}
