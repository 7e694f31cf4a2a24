package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/flowsift/flowsift/internal/fixture"
)

// routerRuns are the real runs over testdata/flowtools/routers/ (README
// section "routers/"): `flow-merge TREES | flow-dscan OPTS`, run
// from flowtools/ with TZ=UTC and the empty dscan.suppress.* there.
var routerRuns = []struct {
	name  string // expected/NAME.stderr
	trees []string
	opts  []string
}{
	{"routers-ab", []string{"rtr-a", "rtr-b"}, []string{"-b", "-D", "20", "-S", "10", "-O", "100000000"}},
	{"routers-ba", []string{"rtr-b", "rtr-a"}, []string{"-b", "-D", "20", "-S", "10", "-O", "100000000"}},
	{"routers-abc", []string{"rtr-a", "rtr-b", "rtr-c"}, []string{"-b", "-D", "20", "-S", "10", "-O", "100000000"}},
	{"routers-abc-t800", []string{"rtr-a", "rtr-b", "rtr-c"}, []string{"-b", "-D", "20", "-S", "10", "-O", "100000000", "-t", "800"}},
}

// Several flow-capture trees, one per router, are read as flow-merge reads
// them: one stream in end-time order, and among equal end times the flow of
// the tree named first. The routers' files cover the same hour and
// interleave; scanners are split between routers, and some of their flows
// end in the same millisecond on two or three routers, so most expected
// lines depend on that order (replaying rtr-a's flows before rtr-b's, as
// flow-cat does, changes 8 of the 10 alerts of routers-ab and the order of
// the other lines; naming rtr-b first changes two alerts and a dump).
// Every flow starts on a whole second, so the real flow-dscan's start= and
// flow-dump times are right and the outputs compare byte for byte. The merged stream itself is checked too:
// flowsift convert of the three trees gives flow-export's CSV of flow-merge.
func TestDscanCompatRoutersMergeLikeFlowMerge(t *testing.T) {
	td := fixture.FlowTools(t)
	useUTC(t)
	t.Chdir(td) // the real runs' directory: ./dscan.suppress.{src,dst} are empty
	for _, c := range routerRuns {
		want, err := os.ReadFile(fixture.FlowTools(t, "expected", c.name+".stderr"))
		if err != nil {
			t.Fatal(err)
		}
		var trees []string
		for _, r := range c.trees {
			trees = append(trees, filepath.Join("routers", r))
		}
		for _, jobs := range [][]string{nil, {"-j", "1"}, {"-j", "2"}} {
			args := append(append(append([]string{"dscan", "--compat"}, jobs...), c.opts...), trees...)
			t.Run(c.name+fmtJobs(jobs), func(t *testing.T) {
				code, stdout, stderr := runCLI(t, "", args...)
				if code != 0 || stdout != "" {
					t.Fatalf("flowsift %q: exit %d, stdout %q, stderr %s", args, code, stdout, stderr)
				}
				if stderr != string(want) {
					t.Errorf("flowsift %q differs from the real flow-dscan (expected/%s.stderr):\n%s", args, c.name, firstDiff(stderr, string(want)))
				}
			})
		}
	}
	want := gunzipFile(t, fixture.FlowTools(t, "expected", "routers-abc.export-f2.csv.gz"))
	for _, jobs := range [][]string{nil, {"-j", "1"}, {"-j", "2"}} {
		t.Run("convert-abc"+fmtJobs(jobs), func(t *testing.T) {
			got := convertCSV(t, append(jobs, "routers/rtr-a", "routers/rtr-b", "routers/rtr-c")...)
			if !bytes.Equal(got, want) {
				t.Errorf("convert of rtr-a, rtr-b, rtr-c differs from flow-merge | flow-export -f 2:\n%s", firstDiff(string(got), string(want)))
			}
		})
	}
}

func fmtJobs(jobs []string) string {
	if len(jobs) == 0 {
		return ""
	}
	return "-j" + jobs[1]
}
