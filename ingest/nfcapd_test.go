package ingest

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/internal/fixture"
)

func TestParseNfcapdName(t *testing.T) {
	for name, want := range map[string]string{
		"nfcapd.202605282025":   "2026-05-28 20:25:00",
		"nfcapd.20260528202530": "2026-05-28 20:25:30",
		"nfcapd.202602310000":   "",
		"nfcapd.202605282460":   "",
		"nfcapd.current.1234":   "",
		"nfcapd.2026052820":     "",
	} {
		tm, ok := ParseNfcapdName(name)
		got := ""
		if ok {
			got = tm.Format(time.DateTime)
		}
		if got != want || ok && tm.Location() != time.Local {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
}

// An NfSen-style profile directory: one directory per source, nfcapd -S
// sub-hierarchies (YYYY/MM/DD) below, a .nfstat beside, a capture in
// progress. Read per source and as one tree, at every -j, the flows come
// out in End order, the same every time, and what was passed over is
// named with its reason.
func TestNfcapdTree(t *testing.T) {
	live := filepath.Join(t.TempDir(), "profiles-data", "live")
	v5 := fixture.Path(t, "nfdump", "v5", "nfcapd.202605282025")
	pc := fixture.Path(t, "nfdump", "pcap", "nfcapd.202605282030")
	copyFile(t, v5, filepath.Join(live, "rtrA", "2026", "05", "28", "nfcapd.202605282025"))
	copyFile(t, pc, filepath.Join(live, "rtrA", "2026", "05", "28", "nfcapd.202605282030"))
	copyFile(t, pc, filepath.Join(live, "rtrB", "nfcapd.202605282030")) // flat
	copyFile(t, v5, filepath.Join(live, "rtrB", "nfcapd.current.4711"))
	if err := os.WriteFile(filepath.Join(live, "rtrA", ".nfstat"), []byte("Time: 1780000000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(live, "rtrA", "README"), []byte("not flows\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	nv5, _ := countFlows(t, []string{v5}, Options{})
	npc, _ := countFlows(t, []string{pc}, Options{})
	if nv5 != 600 || npc == 0 {
		t.Fatalf("files alone: %d %d", nv5, npc)
	}
	for _, paths := range [][]string{{filepath.Join(live, "rtrA"), filepath.Join(live, "rtrB")}, {live}} {
		var first []int64
		for _, j := range []int{1, 2, 4} {
			var ends []int64
			sum, err := Run(context.Background(), paths, Options{Jobs: j}, func(b flow.Batch) error {
				for i := range b {
					ends = append(ends, b[i].End, int64(b[i].SrcPort)<<32|int64(b[i].Packets))
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if sum.Flows != nv5+2*npc || sum.FilesRead != 3 {
				t.Fatalf("-j %d: %d flows from %d files", j, sum.Flows, sum.FilesRead)
			}
			reasons := map[string]string{}
			for _, s := range sum.Skips {
				reasons[s.Reason] += filepath.Base(s.Path) + ":" + s.Detail + ";"
			}
			if !strings.Contains(reasons["hidden"], ".nfstat:nfcapd's directory statistics") ||
				!strings.Contains(reasons["partial-file"], "nfcapd.current.4711") ||
				!strings.Contains(reasons["unknown-format"], "README") || len(reasons) != 3 {
				t.Fatalf("-j %d: skips %v", j, reasons)
			}
			for i := 2; i < len(ends); i += 2 {
				if ends[i] < ends[i-2] {
					t.Fatalf("-j %d: flow %d ends before the one before it", j, i)
				}
			}
			if first == nil {
				first = ends
			} else if !equalInts(first, ends) {
				t.Fatalf("-j %d: order differs from -j 1", j)
			}
		}
	}
	// --include-partial reads the capture in progress.
	n, _ := countFlows(t, []string{filepath.Join(live, "rtrB")}, Options{IncludePartial: true})
	if n != npc+nv5 {
		t.Fatalf("include partial: %d", n)
	}
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Files without a time in their name (nfdump -w output) are scheduled by
// the first flow in their statistics, and merge exactly with the others.
func TestNfcapdUnnamedFilesMerge(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"v5.lz4", "pcap.lzo", "v5.bz2"} {
		copyFile(t, fixture.Path(t, "nfdump", "compressed", n), filepath.Join(dir, n))
	}
	ins, _, err := Walk([]string{dir}, Options{})
	if err != nil || len(ins) != 3 {
		t.Fatal(ins, err)
	}
	for _, in := range ins {
		if in.Time.IsZero() || in.Format.Name() != "nfcapd" {
			t.Fatalf("%s: time %v format %v", in.Path, in.Time, in.Format)
		}
	}
	var last int64
	sum, err := Run(context.Background(), []string{dir}, Options{Jobs: 2}, func(b flow.Batch) error {
		for i := range b {
			if b[i].End < last {
				t.Fatalf("out of order")
			}
			last = b[i].End
		}
		return nil
	})
	if err != nil || sum.Partial() {
		t.Fatal(err, sum.Skips)
	}
}

// TestRunNfcapdFile runs the whole ingest path (decode, chunks, ordered
// merge) over the paths in NFCAPD_RUN (colon-separated) with
// NFCAPD_JOBS jobs: the measurement behind the README's nfcapd figures,
// run under /usr/bin/time.
func TestRunNfcapdFile(t *testing.T) {
	paths := os.Getenv("NFCAPD_RUN")
	if paths == "" {
		t.Skip("set NFCAPD_RUN=FILE[:FILE...] and NFCAPD_JOBS=N to time a run")
	}
	jobs, _ := strconv.Atoi(os.Getenv("NFCAPD_JOBS"))
	sum, err := Run(context.Background(), strings.Split(paths, ":"), Options{Jobs: jobs}, func(flow.Batch) error { return nil })
	if err != nil || sum.Partial() {
		t.Fatal(err, sum.Skips)
	}
	t.Logf("%d flows", sum.Flows)
}

// nfcapd files merge exactly with other inputs: a flow-tools capture tree
// and an nfcapd directory in one run give one End order, the same at every
// -j, with every flow of both.
func TestNfcapdMergesWithFlowTools(t *testing.T) {
	ft := fixture.FlowTools(t, "ft-tree")
	nf := filepath.Dir(fixture.Path(t, "nfdump", "v5", "nfcapd.202605282025"))
	nft, _ := countFlows(t, []string{ft}, Options{})
	nnf, _ := countFlows(t, []string{nf}, Options{})
	var first []int64
	for _, j := range []int{1, 2, 3} {
		var keys []int64
		var last int64
		sum, err := Run(context.Background(), []string{nf, ft}, Options{Jobs: j}, func(b flow.Batch) error {
			for i := range b {
				if b[i].End < last {
					t.Fatalf("-j %d: out of End order", j)
				}
				last = b[i].End
				keys = append(keys, b[i].End, int64(b[i].SrcPort)<<32|int64(b[i].Packets&0xffffffff))
			}
			return nil
		})
		if err != nil || sum.Flows != nft+nnf {
			t.Fatalf("-j %d: %d flows (want %d + %d): %v", j, sum.Flows, nft, nnf, err)
		}
		if first == nil {
			first = keys
		} else if !equalInts(first, keys) {
			t.Fatalf("-j %d: order differs from -j 1", j)
		}
	}
}

// A sampling note is said, and does not make the run partial: the flows
// were read.
func TestSampledNoteIsNotPartial(t *testing.T) {
	s := &Summary{Skips: []flow.Skip{{Path: "f", Offset: -1, Reason: "sampled", Detail: "90 flows of exporter 127.0.0.1 (sysid 1) are sampled", Count: 90}}}
	if s.Partial() {
		t.Fatal("a sampling note made the run partial")
	}
	var b strings.Builder
	if err := s.WriteText(&b); err != nil || !strings.Contains(b.String(), "are sampled") {
		t.Fatalf("summary does not say it (%v):\n%s", err, b.String())
	}
}
