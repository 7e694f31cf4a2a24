package main

import (
	"encoding/json"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowsift/flowsift/analyze/episode"
	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/internal/fixture"
	"github.com/flowsift/flowsift/internal/nfv5"
	"github.com/flowsift/flowsift/report"
)

// reportJSON runs the report over paths and returns its model.
func reportJSON(t *testing.T, paths ...string) *report.Model {
	t.Helper()
	out := filepath.Join(t.TempDir(), "r.json")
	args := append([]string{"report", "--generated-at", "2026-11-22T06:00:00Z", sampleLocal, "-o", out}, paths...)
	if code, _, stderr := runCLI(t, "", args...); code != 0 {
		t.Fatalf("report %v: exit %d: %s", paths, code, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var m report.Model
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

// sh runs a follow-up command line as an operator would paste it.
func sh(t *testing.T, dir, path, line string) string {
	t.Helper()
	c := exec.Command("sh", "-c", line)
	c.Dir = dir
	if path != "" {
		c.Env = append(os.Environ(), "PATH="+path+string(os.PathListSeparator)+os.Getenv("PATH"))
	}
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", line, err, out)
	}
	return string(out)
}

// A flow-tools tree gets flow-tools commands only (nfdump cannot read
// it), and they run: flow-cat | flow-nfilter | flow-print prints the
// scanner's flows.
func TestFollowUpFlowToolsRuns(t *testing.T) {
	fixture.NeedProgram(t, "flow-nfilter")
	fixture.NeedProgram(t, "flow-cat")
	fixture.NeedProgram(t, "flow-print")
	tree := filepath.Join(fixture.FlowTools(t), "ft-tree")
	m := reportJSON(t, tree)
	var s *report.Scanner
	for i := range m.Scanners {
		if m.Scanners[i].FlowTools != "" && m.Scanners[i].Class != report.ClassOther {
			s = &m.Scanners[i]
			break
		}
	}
	if s == nil {
		t.Fatal("no scanner with a flow-tools command")
	}
	for _, sc := range m.Scanners {
		if sc.Nfdump != "" || sc.FollowUpCmd != "" {
			t.Fatalf("%s: a flow-tools tree got %q / %q", sc.Src, sc.Nfdump, sc.FollowUpCmd)
		}
	}
	dir := t.TempDir()
	name := strings.Fields(strings.SplitN(s.FlowTools, "-F ", 2)[1])[0]
	if err := os.WriteFile(filepath.Join(dir, name+".nfilter"), []byte(s.FilterFile), 0o644); err != nil {
		t.Fatal(err)
	}
	out := sh(t, dir, "", s.FlowTools)
	lines := 0
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) > 2 && strings.Contains(l, s.Src) {
			lines++
		}
	}
	if uint64(lines) != s.Flows {
		t.Errorf("%s: flow-print shows %d flows of %s, the episode has %d:\n%.600s", s.FlowTools, lines, s.Src, s.Flows, out)
	}
}

// Parquet and CSV get a flowsift command (neither tool reads them), and
// it prints exactly the episode's flows.
func TestFollowUpFlowsiftRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", filepath.Join(bin, "flowsift"), ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	archive := filepath.Join("..", "..", "samples", "archive")
	data := t.TempDir()
	for _, format := range []string{"parquet", "csv"} {
		file := filepath.Join(data, "flows."+format)
		if code, _, stderr := runCLI(t, "", "convert", "--to", format, archive, file); code != 0 {
			t.Fatalf("convert: %s", stderr)
		}
		m := reportJSON(t, file)
		s := m.Ranked(report.ClassLocal)[0]
		if s.FlowTools != "" || s.Nfdump != "" || s.FilterFile != "" || !strings.HasPrefix(s.FollowUpCmd, "flowsift convert") {
			t.Fatalf("%s: commands %q %q %q", format, s.FlowTools, s.Nfdump, s.FollowUpCmd)
		}
		out := sh(t, t.TempDir(), bin, s.FollowUpCmd)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if !strings.Contains(lines[0], "srcaddr") || uint64(len(lines)-1) != s.Flows {
			t.Errorf("%s: %s printed %d rows (want header and %d):\n%.500s", format, s.FollowUpCmd, len(lines)-1, s.Flows, out)
		}
		for _, l := range lines[1:] {
			if !strings.Contains(l, ","+s.Src+",") {
				t.Fatalf("%s: row of another source: %s", format, l)
			}
		}
	}
}

// nfcapd files get nfdump -r (a file) or -R (a directory), and nfdump
// reads them and prints the episode's flows.
func TestFollowUpNfdumpRuns(t *testing.T) {
	nfdump := fixture.NeedProgram(t, "nfdump")
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC).UnixMilli()
	scanner := netip.MustParseAddr("198.51.100.7")
	var recs []flow.Record
	for i := range 30 {
		src := scanner
		if i%3 == 0 {
			src = netip.MustParseAddr("10.20.1.1") // someone else
		}
		recs = append(recs, flow.Record{Src: src, Dst: netip.AddrFrom4([4]byte{10, 20, 2, byte(i)}), Proto: 6, SrcPort: 40000, DstPort: 22,
			TCPFlags: 2, Packets: 1, Octets: 44, Start: t0 + int64(i)*1000, End: t0 + int64(i)*1000 + 10})
	}
	file := nfv5.CaptureWithNfcapd(t, recs)
	ep := episode.Episode{Src: scanner, First: t0 + 1000, Last: t0 + 29_010}
	for _, a := range []episode.Archive{{Path: file, Formats: []string{"nfcapd"}}, {Path: filepath.Dir(file), Formats: []string{"nfcapd"}, Dir: true}} {
		fu := episode.FollowUpFor([]episode.Archive{a}, ep)
		if fu.FlowTools != "" || fu.Flowsift != "" || !strings.HasPrefix(fu.Nfdump, "TZ=UTC nfdump ") {
			t.Fatalf("commands for nfcapd: %+v", fu)
		}
		line := strings.Replace(fu.Nfdump, "nfdump", nfdump, 1)
		out := sh(t, t.TempDir(), "", line+" -o csv -q")
		n := 0
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if strings.Contains(l, scanner.String()) {
				n++
			} else if strings.Contains(l, "10.20.1.1,") {
				t.Errorf("%s: printed another source's flow: %s", line, l)
			}
		}
		if n != 20 {
			t.Errorf("%s: %d flows of the scanner, want 20:\n%s", line, n, out)
		}
	}
}

// Standard input cannot be read again: no command names it.
func TestFollowUpSkipsStdin(t *testing.T) {
	fu := episode.FollowUpFor([]episode.Archive{{Path: "-", Formats: []string{"flow-tools"}, Stream: true}}, episode.Episode{Src: netip.MustParseAddr("192.0.2.1")})
	if fu.FlowTools != "" || fu.Nfdump != "" || fu.Flowsift != "" {
		t.Errorf("commands for standard input: %+v", fu)
	}
}
