package ingest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowsift/flowsift/flow"
)

// fakeFormat reads "FAKE" files: one record per line, "END ID", so merge
// logic is tested without any real decoder. A line "BAD" is a bad row.
type fakeFormat struct{}

func (fakeFormat) Name() string { return "fake" }
func (fakeFormat) Sniff(head []byte, _ string) bool {
	return strings.HasPrefix(string(head), "FAKE\n")
}
func (fakeFormat) Decode(path string, r io.Reader, emit func(flow.Batch) error, skip func(flow.Skip)) error {
	sc := bufio.NewScanner(r)
	sc.Scan()
	var b flow.Batch
	line := int64(1)
	for sc.Scan() {
		line++
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			skip(flow.Skip{Path: path, Line: line, Offset: -1, Reason: "bad-row", Detail: "want 2 fields", Count: 1})
			continue
		}
		end, _ := strconv.ParseInt(f[0], 10, 64)
		id, _ := strconv.ParseUint(f[1], 10, 32)
		b = append(b, flow.Record{End: end, Packets: id})
	}
	return emit(b)
}

func withFake(t *testing.T) {
	extraFormats = []Format{fakeFormat{}}
	t.Cleanup(func() { extraFormats = nil })
}

func writeFake(t *testing.T, dir, name string, rows ...string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("FAKE\n"+strings.Join(rows, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func collect(t *testing.T, paths []string, opt Options) ([]string, *Summary) {
	t.Helper()
	var got []string
	sum, err := Run(context.Background(), paths, opt, func(b flow.Batch) error {
		for _, r := range b {
			got = append(got, fmt.Sprintf("%d/%d", r.End, r.Packets))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got, sum
}

func TestParseCaptureName(t *testing.T) {
	tm, v, partial, ok := ParseCaptureName("ft-v05.2026-11-22.055028-0500")
	if !ok || v != "05" || partial || !tm.Equal(time.Date(2026, 11, 22, 10, 50, 28, 0, time.UTC)) {
		t.Fatalf("got %v %q %v %v", tm, v, partial, ok)
	}
	tm, v, partial, ok = ParseCaptureName("tmp-v08m01.2026-11-22.163528+0545")
	if !ok || v != "08m01" || !partial || !tm.Equal(time.Date(2026, 11, 22, 10, 50, 28, 0, time.UTC)) {
		t.Fatalf("got %v %q %v %v", tm, v, partial, ok)
	}
	if _, _, _, ok := ParseCaptureName("ft-v05.2026-02-31.000000+0000"); ok {
		t.Fatal("accepted Feb 31")
	}
	if _, _, _, ok := ParseCaptureName("notes.txt"); ok {
		t.Fatal("accepted notes.txt")
	}
	if tm, _, _, ok := ParseCaptureName("ft-v05.2002-01-01.120000"); !ok || tm.Location() != time.Local {
		t.Fatal("name without offset not taken as local time")
	}
}

// A tree whose files overlap in time and share end times: the merge must be
// the stable sort of the files' concatenation in capture order, for every -j.
func TestRunStableMergeAllJobs(t *testing.T) {
	withFake(t)
	dir := t.TempDir()
	// Names deliberately listed out of order; capture order is by name time.
	writeFake(t, dir, "a/ft-v05.2026-11-20.101500+0000", "15 1", "20 2", "20 3", "40 4")
	writeFake(t, dir, "b/ft-v05.2026-11-20.100000+0000", "5 5", "20 6", "30 7")
	writeFake(t, dir, "ft-v05.2026-11-20.103000+0000", "20 8", "10 9", "50 10") // unsorted inside
	writeFake(t, dir, "ft-v05.2026-11-20.104500+0000", "1 11")                  // far out of order
	want := []string{"1/11", "5/5", "10/9", "15/1", "20/6", "20/2", "20/3", "20/8", "30/7", "40/4", "50/10"}
	for _, j := range []int{1, 2, 3} {
		got, sum := collect(t, []string{dir}, Options{Jobs: j, Lookahead: 4, BatchSize: 3})
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("-j %d:\n got %v\nwant %v", j, got, want)
		}
		if sum.FilesRead != 4 || sum.Flows != 11 || sum.Partial() {
			t.Errorf("-j %d: summary %+v", j, sum)
		}
	}
}

// With a window smaller than the disorder, nothing is lost and the
// summary says which file came too late.
func TestRunOutOfOrderBeyondWindow(t *testing.T) {
	withFake(t)
	dir := t.TempDir()
	for i := 0; i < 6; i++ {
		writeFake(t, dir, fmt.Sprintf("ft-v05.2026-11-20.1%d0000+0000", i), fmt.Sprintf("%d 0", 100+i*10))
	}
	writeFake(t, dir, "ft-v05.2026-11-20.170000+0000", "1 99")
	got, sum := collect(t, []string{dir}, Options{Jobs: 1, Lookahead: 1})
	if len(got) != 7 {
		t.Fatalf("lost flows: %v", got)
	}
	found := false
	for _, k := range sum.Skips {
		if k.Reason == "out-of-order" && strings.HasSuffix(k.Path, "170000+0000") {
			found = true
		}
	}
	if !found || sum.Partial() {
		t.Fatalf("want an out-of-order warning that does not make the run partial: %+v", sum.Skips)
	}
}

func TestWalkSkipsAndWindow(t *testing.T) {
	withFake(t)
	dir := t.TempDir()
	writeFake(t, dir, "ft-v05.2026-11-20.100000+0000", "1 1")
	writeFake(t, dir, "ft-v05.2026-11-20.101500+0000", "2 2")
	writeFake(t, dir, "tmp-v05.2026-11-20.103000+0000", "3 3")
	os.WriteFile(filepath.Join(dir, "junk.txt"), []byte("hello"), 0o644)
	os.WriteFile(filepath.Join(dir, "empty"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, ".hidden"), []byte("x"), 0o644)
	writeFake(t, dir, ".snapshot/ft-v05.2026-11-20.100000+0000", "1 1")

	got, sum := collect(t, []string{dir}, Options{Jobs: 2})
	if strings.Join(got, " ") != "1/1 2/2" {
		t.Fatalf("got %v", got)
	}
	reasons := map[string]int64{}
	for _, rc := range sum.ByReason() {
		reasons[rc.Reason] = rc.Count
	}
	if reasons["partial-file"] != 1 || reasons["unknown-format"] != 1 || reasons["empty"] != 1 || reasons["hidden"] != 2 || !sum.Partial() {
		t.Fatalf("reasons %v", reasons)
	}
	got, _ = collect(t, []string{dir}, Options{IncludePartial: true})
	if strings.Join(got, " ") != "1/1 2/2 3/3" {
		t.Fatalf("--include-partial: got %v", got)
	}
	// The 10:15 file covers [10:15, 10:30): a window from 10:20 keeps it.
	from := time.Date(2026, 11, 20, 10, 20, 0, 0, time.UTC)
	got, _ = collect(t, []string{dir}, Options{From: from})
	if strings.Join(got, " ") != "2/2" {
		t.Fatalf("--from 10:20: got %v", got)
	}
	// A window ending at 10:15 reads the 10:15 file too: its first flows
	// may have ended before 10:15 (the export delay); without a delay it
	// does not.
	got, _ = collect(t, []string{dir}, Options{To: time.Date(2026, 11, 20, 10, 15, 0, 0, time.UTC)})
	if strings.Join(got, " ") != "1/1 2/2" {
		t.Fatalf("--to 10:15: got %v", got)
	}
	got, _ = collect(t, []string{dir}, Options{To: time.Date(2026, 11, 20, 10, 15, 0, 0, time.UTC), ExportDelay: -1})
	if strings.Join(got, " ") != "1/1" {
		t.Fatalf("--to 10:15, no delay: got %v", got)
	}
	// An explicit tmp- path is read, as flow-cat does.
	got, _ = collect(t, []string{filepath.Join(dir, "tmp-v05.2026-11-20.103000+0000")}, Options{})
	if strings.Join(got, " ") != "3/3" {
		t.Fatalf("explicit tmp-: got %v", got)
	}
}

func TestRunBadRowsCountedAndMissingPathFails(t *testing.T) {
	withFake(t)
	dir := t.TempDir()
	p := writeFake(t, dir, "x", "1 1", "BAD", "2 2")
	got, sum := collect(t, []string{p}, Options{})
	if len(got) != 2 || !sum.Partial() || sum.Sorted()[0].Line != 3 {
		t.Fatalf("got %v, skips %+v", got, sum.Skips)
	}
	var sb strings.Builder
	sum.WriteText(&sb)
	if !strings.Contains(sb.String(), "line 3: bad-row") {
		t.Fatalf("summary text: %s", sb.String())
	}
	if _, err := Run(context.Background(), []string{filepath.Join(dir, "nope")}, Options{}, func(flow.Batch) error { return nil }); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("missing path: %v", err)
	}
}

// An empty directory (a day a capture never ran) is an error naming it,
// not an empty run; a directory holding only a capture in progress is a
// run whose summary lists the file.
func TestRunEmptyDirectoryFails(t *testing.T) {
	withFake(t)
	empty := t.TempDir()
	if _, err := Run(context.Background(), []string{empty}, Options{}, func(flow.Batch) error { return nil }); err == nil ||
		!strings.Contains(err.Error(), "no input files in "+empty) {
		t.Fatalf("empty directory: %v", err)
	}
	busy := t.TempDir()
	writeFake(t, busy, "tmp-v05.2026-11-20.100000+0000", "1 1")
	sum, err := Run(context.Background(), []string{busy}, Options{}, func(flow.Batch) error { return nil })
	if err != nil || sum.FilesRead != 0 || len(sum.Skips) != 1 || sum.Skips[0].Reason != "partial-file" {
		t.Fatalf("directory with a tmp- file: %v, %+v", err, sum)
	}
}

func TestRunSinkErrorStops(t *testing.T) {
	withFake(t)
	dir := t.TempDir()
	for i := 0; i < 10; i++ {
		writeFake(t, dir, fmt.Sprintf("ft-v05.2026-11-20.1%d0000+0000", i), fmt.Sprintf("%d 0", i))
	}
	calls := 0
	_, err := Run(context.Background(), []string{dir}, Options{Jobs: 2, BatchSize: 1}, func(flow.Batch) error {
		calls++
		if calls == 3 {
			return io.ErrClosedPipe
		}
		return nil
	})
	if err != io.ErrClosedPipe || calls != 3 {
		t.Fatalf("err %v after %d calls", err, calls)
	}
}

// Files that all overlap in time stay in the merge together; holding more
// of them than the lookahead must not stall the decoders.
func TestRunManyOverlappingFiles(t *testing.T) {
	withFake(t)
	dir := t.TempDir()
	const files = 12
	var want []string
	for i := 0; i < files; i++ {
		// file i holds ends i and 1000+i: every file overlaps every other.
		writeFake(t, dir, fmt.Sprintf("ft-v05.2026-11-20.%02d0000+0000", i), fmt.Sprintf("%d %d", i, i), fmt.Sprintf("%d %d", 1000+i, 100+i))
	}
	for i := 0; i < files; i++ {
		want = append(want, fmt.Sprintf("%d/%d", i, i))
	}
	for i := 0; i < files; i++ {
		want = append(want, fmt.Sprintf("%d/%d", 1000+i, 100+i))
	}
	for _, j := range []int{1, 2, 3} {
		done := make(chan []string)
		go func() {
			got, _ := collect(t, []string{dir}, Options{Jobs: j, Lookahead: 1})
			done <- got
		}()
		select {
		case got := <-done:
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Fatalf("-j %d:\n got %v\nwant %v", j, got, want)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("-j %d: merge stalled with %d overlapping files", j, files)
		}
	}
}

func TestRunCancel(t *testing.T) {
	withFake(t)
	dir := t.TempDir()
	for i := 0; i < 10; i++ {
		writeFake(t, dir, fmt.Sprintf("ft-v05.2026-11-20.1%d0000+0000", i), fmt.Sprintf("%d 0", i))
	}
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	_, err := Run(ctx, []string{dir}, Options{Jobs: 2, BatchSize: 1}, func(flow.Batch) error {
		calls++
		if calls == 2 {
			cancel()
		}
		return nil
	})
	if err != context.Canceled || calls != 2 {
		t.Fatalf("err %v after %d calls", err, calls)
	}
}

// Many bad rows are capped per reason in the text summary, and a file-level
// problem is never crowded out by them.
func TestSummaryTextCapsPerReason(t *testing.T) {
	withFake(t)
	dir := t.TempDir()
	rows := []string{"1 1"}
	for i := 0; i < 30; i++ {
		rows = append(rows, "BAD")
	}
	writeFake(t, dir, "a.fake", rows...)
	os.WriteFile(filepath.Join(dir, "zz-junk"), []byte("junk"), 0o644)
	_, sum := collect(t, []string{dir}, Options{})
	var sb strings.Builder
	if err := sum.WriteText(&sb); err != nil {
		t.Fatal(err)
	}
	out := sb.String()
	for _, want := range []string{"inputs: 2 seen, 1 read; flows: 1\n", "skipped: bad-row: 30\n", "  ... and 10 more\n",
		"a.fake: line 3: bad-row", "a.fake: line 22: bad-row", "skipped: unknown-format: 1\n", "zz-junk: offset 0: unknown-format"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, ": bad-row: want 2 fields"); n != maxSkipLines {
		t.Errorf("%d bad-row lines, want %d", n, maxSkipLines)
	}
}

func TestProgressLine(t *testing.T) {
	withFake(t)
	dir := t.TempDir()
	for i := 0; i < 4; i++ {
		writeFake(t, dir, fmt.Sprintf("ft-v05.2026-11-20.1%d0000+0000", i), fmt.Sprintf("%d 0", i), fmt.Sprintf("%d 1", i))
	}
	var buf strings.Builder
	if _, err := Run(context.Background(), []string{dir}, Options{Progress: &buf}, func(flow.Batch) error { return nil }); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "\rfiles 4/4  flows 8 ") || !strings.HasSuffix(out, "\r\033[K") || strings.Contains(out, "\n") {
		t.Fatalf("progress output %q", out)
	}
	f, err := os.CreateTemp(t.TempDir(), "x")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) {
		t.Fatal("a regular file taken for a terminal")
	}
	// No writer, no output and no crash.
	if _, err := Run(context.Background(), []string{dir}, Options{}, func(flow.Batch) error { return nil }); err != nil {
		t.Fatal(err)
	}
}

// The files held at once (decoding, waiting or in the merge) stay within
// Lookahead + Jobs + the files overlapping in time, however long the tree.
// mergeDir merges the files of dir with a merger of its own, for its
// counters, and returns it with the number of flows it emitted.
func mergeDir(t *testing.T, dir string, opt Options) (*merger, int) {
	t.Helper()
	inputs, _, err := Walk([]string{dir}, opt)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	m := &merger{opt: opt, sum: &Summary{}, sink: func(b flow.Batch) error { n += len(b); return nil }}
	if err := m.run(context.Background(), inputs); err != nil {
		t.Fatal(err)
	}
	return m, n
}

func TestRunMemoryBound(t *testing.T) {
	withFake(t)
	dir := t.TempDir()
	const files = 40
	for i := 0; i < files; i++ {
		// consecutive files overlap by one end time: at most 2 in the merge.
		writeFake(t, dir, fmt.Sprintf("ft-v05.2026-11-20.%02d%02d00+0000", i/4, 15*(i%4)), fmt.Sprintf("%d 0", 10*i), fmt.Sprintf("%d 1", 10*i+5), fmt.Sprintf("%d 2", 10*i+12))
	}
	for _, c := range []struct{ jobs, look int }{{1, 1}, {1, 4}, {2, 4}, {3, 2}} {
		m, n := mergeDir(t, dir, Options{Jobs: c.jobs, Lookahead: c.look})
		if n != 3*files {
			t.Fatalf("%+v: %d flows", c, n)
		}
		if bound := int64(c.look + c.jobs + 2); m.maxHeld.Load() > bound || m.held.Load() != 0 {
			t.Errorf("%+v: held up to %d files (bound %d), %d at the end", c, m.maxHeld.Load(), bound, m.held.Load())
		}
	}
}

// Files read one after the other take up the chunks of the one before:
// a file that ends frees its reorder window at once, and the pool keeps
// room for it. With room for jobs+2 chunks only, each file allocated its
// window anew, and the chunks made grew with the files read.
func TestRunChunksReusedAcrossFiles(t *testing.T) {
	withFake(t)
	const files, per = 24, 5 * chunkSize
	dir := t.TempDir()
	for i := range files {
		rows := make([]string, per)
		for j := range rows {
			rows[j] = fmt.Sprintf("%d %d", i*per+j, j)
		}
		writeFake(t, dir, fmt.Sprintf("ft-v05.2026-11-%02d.%02d0000+0000", 20+i/24, i%24), rows...)
	}
	opt := Options{Jobs: 1, Lookahead: 1, Reorder: 2 * chunkSize}
	m, n := mergeDir(t, dir, opt)
	if n != files*per {
		t.Fatalf("%d flows, want %d", n, files*per)
	}
	// What may be out at once does not grow with the files: the files in
	// play (the one being merged, Lookahead waiting at the merge and Jobs
	// more decoding ahead) each hold a reorder window and four chunks
	// more, and the free list keeps what they give back. How many of that bound a run
	// reaches depends on the scheduler, so the test holds the run to the
	// bound, which is a fraction of the chunks the files fill.
	inPlay := opt.Lookahead + opt.Jobs + 1
	bound := m.chunks.max + inPlay*(opt.Reorder/chunkSize+4)
	if filled := files * per / chunkSize; bound*4 > filled {
		t.Fatalf("bound %d is too near the %d chunks filled to tell reuse from none", bound, filled)
	}
	if m.chunks.made > bound {
		t.Errorf("%d chunks allocated for %d files of %d chunks each, bound %d: the later files did not reuse the earlier ones'", m.chunks.made, files, per/chunkSize, bound)
	}
}

// nfdump CSV is sniffed in a tree; NfdumpZone says which zone its times
// are in.
func TestNfdumpCSVRegistered(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("nfdump", "testdata", "nfdump-1.7.1.csv"))
	if err != nil {
		t.Fatalf("nfdump fixture missing: %v", err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "flows.csv"), src, 0o644)
	ends := func(opt Options) []int64 {
		var e []int64
		sum, err := Run(context.Background(), []string{dir}, opt, func(b flow.Batch) error {
			for _, r := range b {
				e = append(e, r.End)
			}
			return nil
		})
		if err != nil || sum.FilesRead != 1 || sum.Partial() || len(e) == 0 {
			t.Fatalf("err %v, summary %+v", err, sum)
		}
		return e
	}
	utc := ends(Options{})
	cet := ends(Options{NfdumpZone: time.FixedZone("CET", 3600)})
	if len(utc) != len(cet) || utc[0]-cet[0] != 3600*1000 {
		t.Fatalf("zone not applied: %v vs %v", utc, cet)
	}
}

// Nothing in a tree is passed over unsaid: a dangling link is an input
// that could not be read (the run is partial); a link to a directory, a
// link to a pipe and a pipe are listed and not read; a link to a file is
// read.
func TestWalkListsWhatItPassesOver(t *testing.T) {
	withFake(t)
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	writeFake(t, tree, "a", "5 1")
	other := writeFake(t, dir, "elsewhere/b", "6 2")
	links := map[string]string{"dangling": filepath.Join(dir, "gone"), "dirlink": filepath.Join(dir, "elsewhere"), "filelink": other}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(tree, name)); err != nil {
			t.Skipf("no symbolic links here: %v", err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(tree, "pipe"), 0o600); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	os.Symlink(filepath.Join(tree, "pipe"), filepath.Join(tree, "pipelink"))
	got, sum := collect(t, []string{tree}, Options{})
	if len(got) != 2 {
		t.Fatalf("flows %v: want a's and the linked b's", got)
	}
	reasons := map[string]string{}
	for _, s := range sum.Skips {
		reasons[filepath.Base(s.Path)] = s.Reason
	}
	want := map[string]string{"dangling": "unreadable", "dirlink": "not-followed", "pipe": "not-a-file", "pipelink": "not-a-file"}
	for name, r := range want {
		if reasons[name] != r {
			t.Errorf("%s: reason %q, want %q (skips %+v)", name, reasons[name], r, sum.Skips)
		}
	}
	if !sum.Partial() {
		t.Error("a dangling link does not make the run partial")
	}
	// Without it, what was passed over is listed but the run is whole.
	os.Remove(filepath.Join(tree, "dangling"))
	if _, sum := collect(t, []string{tree}, Options{}); sum.Partial() || len(sum.Skips) != 3 {
		t.Errorf("links to a directory and pipes made the run partial, or went unlisted: %+v", sum.Skips)
	}
}

// Planned is called once, before the first batch, with the bytes of the
// regular files to read.
func TestRunPlannedBeforeDecoding(t *testing.T) {
	withFake(t)
	dir := t.TempDir()
	var want int64
	for i, name := range []string{"ft-v05.2026-11-20.100000+0000", "x/ft-v05.2026-11-20.101500+0000"} {
		p := writeFake(t, dir, name, fmt.Sprintf("%d 1", 10+i), fmt.Sprintf("%d 2", 20+i))
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		want += fi.Size()
	}
	var calls int
	var got int64
	batches := 0
	_, err := Run(context.Background(), []string{dir}, Options{Jobs: 2, Planned: func(n int64) {
		calls++
		got = n
		if batches > 0 {
			t.Error("Planned called after a batch")
		}
	}}, func(flow.Batch) error { batches++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 || got != want || batches == 0 {
		t.Fatalf("Planned called %d times with %d bytes (want once, %d); %d batches", calls, got, want, batches)
	}
}
