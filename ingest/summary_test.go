package ingest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowsift/flowsift/flow"
)

// ms is a UTC time on 2026-11-20 (or the day after) in ms since the epoch.
func ms(day, h, m, s int) int64 {
	return time.Date(2026, 11, 20+day, h, m, s, 0, time.UTC).UnixMilli()
}

// TestSummaryTextPerSource: with several input paths the run summary has
// one line per path, in command-line order, after the counts line and
// before the skips; a router that stopped exporting is marked there.
func TestSummaryTextPerSource(t *testing.T) {
	sum := &Summary{FilesSeen: 200, FilesRead: 196, Flows: 3_703_701,
		Skips: []flow.Skip{{Path: "/flows/rtr-b/2026-11-20/ft-v05.2026-11-20.031500+0000", Offset: 4096, Reason: "truncated", Detail: "cut"},
			{Path: "/flows/rtr-b/x.csv", Offset: -1, Line: 7, Reason: "bad-row", Count: 1, Detail: "bad"}},
		Sources: []Source{
			{Path: "/flows/rtr-a", Files: 96, Flows: 2_469_134, First: ms(0, 0, 0, 0) + 999, Last: ms(1, 0, 0, 0) + 412},
			{Path: "/flows/rtr-b", Files: 40, Skipped: 2, Flows: 1_234_567, First: ms(0, 0, 0, 1), Last: ms(0, 3, 10, 7) + 950},
			{Path: "/flows/rtr-c", Files: 1, Skipped: 2},
			{Path: "/flows/rtr-d", Files: 59, Flows: 1, First: ms(0, 23, 30, 0), Last: ms(0, 23, 30, 0)},
		}}
	var sb strings.Builder
	if err := sum.WriteText(&sb); err != nil {
		t.Fatal(err)
	}
	want := `inputs: 200 seen, 196 read; flows: 3703701
  /flows/rtr-a: 96 files, 2,469,134 flows, 2026-11-20 00:00:00 to 2026-11-21 00:00:00 UTC
  /flows/rtr-b: 40 files, 1,234,567 flows, 2026-11-20 00:00:01 to 03:10:07 UTC, 2 skipped; stopped 20 h 49 min before the others
  /flows/rtr-c: 1 file, no flows, 2 skipped
  /flows/rtr-d: 59 files, 1 flow, 2026-11-20 23:30:00 to 23:30:00 UTC
skipped: bad-row: 1
  /flows/rtr-b/x.csv: line 7: bad-row: bad
skipped: truncated: 1
  /flows/rtr-b/2026-11-20/ft-v05.2026-11-20.031500+0000: offset 4096: truncated: cut
`
	if got := sb.String(); got != want {
		t.Errorf("summary:\n%s\nwant:\n%s", got, want)
	}

	// One path: its figures are the counts line's, no line of its own.
	one := &Summary{FilesSeen: 1, FilesRead: 1, Flows: 5, Sources: []Source{{Path: "/flows/rtr-a", Files: 1, Flows: 5, First: 1, Last: 2}}}
	sb.Reset()
	one.WriteText(&sb)
	if got := sb.String(); got != "inputs: 1 seen, 1 read; flows: 5\n" {
		t.Errorf("one path: %q", got)
	}

	// Within the bound (a tenth of a 24-hour span is capped at 1 hour):
	// both ends are shown, nothing is marked.
	sum.Sources[1].Last = ms(0, 23, 1, 0)
	sb.Reset()
	sum.WriteText(&sb)
	if out := sb.String(); strings.Contains(out, "stopped") || !strings.Contains(out, "2026-11-20 00:00:01 to 23:01:00 UTC, 2 skipped\n") {
		t.Errorf("a path 59 minutes behind in a day is marked or misprinted:\n%s", out)
	}
}

// TestSummaryTextPerSourceFromRun: the lines print what Run counted for
// each path given, a tree's skips under the tree.
func TestSummaryTextPerSourceFromRun(t *testing.T) {
	withFake(t)
	a, b := filepath.Join(t.TempDir(), "rtr-a"), filepath.Join(t.TempDir(), "rtr-b")
	base := ms(0, 0, 0, 0)
	writeFake(t, a, "f1", fmt.Sprint(base+1000, " 1"), fmt.Sprint(base+2000, " 2"))
	writeFake(t, a, "f2", fmt.Sprint(base+4*3600_000, " 3"))
	writeFake(t, b, "f1", fmt.Sprint(base+3000, " 4"), "BAD")
	os.WriteFile(filepath.Join(b, "zz-junk"), []byte("junk"), 0o644)
	_, sum := collect(t, []string{a, b}, Options{})
	var sb strings.Builder
	if err := sum.WriteText(&sb); err != nil {
		t.Fatal(err)
	}
	out := sb.String()
	for _, want := range []string{
		"\n  " + a + ": 2 files, 3 flows, 2026-11-20 00:00:01 to 04:00:00 UTC\n",
		"\n  " + b + ": 1 file, 1 flow, 2026-11-20 00:00:03 to 00:00:03 UTC, 2 skipped; stopped 3 h 59 min before the others\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}
