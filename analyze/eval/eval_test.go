package eval

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/analyze/assess"
	"github.com/flowsift/flowsift/analyze/dscan"
	"github.com/flowsift/flowsift/analyze/episode"
	"github.com/flowsift/flowsift/analyze/guess"
	"github.com/flowsift/flowsift/analyze/heuristics"
	"github.com/flowsift/flowsift/analyze/roles"
	"github.com/flowsift/flowsift/analyze/trw"
	"github.com/flowsift/flowsift/analyze/vscan"
	"github.com/flowsift/flowsift/analyze/weighted"
	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/policy"
	"github.com/flowsift/flowsift/samples"
)

var update = flag.Bool("update", false, "rewrite the evaluation table in testdata/")

// sitePolicy is the site's declared policy: samples/policy.example.toml
// describes the sample site (its networks, address plan, the proxy's role
// and the busy servers on the fan-out white-list), as an operator would.
func sitePolicy() *policy.Policy {
	_, f, _, _ := runtime.Caller(0)
	p, err := policy.Load(filepath.Join(filepath.Dir(f), "..", "..", "samples", "policy.example.toml"))
	if err != nil {
		panic(err)
	}
	return p
}

func siteHeuristics(*samples.Truth) heuristics.Config { return sitePolicy().HeuristicsConfig() }

// run feeds every detector and returns the flagged sources per detector.
func run(recs []flow.Record, tr *samples.Truth) (map[string]map[netip.Addr]bool, map[string][]analyze.Finding) {
	flagged := map[string]map[netip.Addr]bool{}
	found := map[string][]analyze.Finding{}
	var fresh []analyze.Finding // this batch's findings, for the accountant
	sink := func(name string) analyze.Sink {
		flagged[name] = map[netip.Addr]bool{}
		return func(f analyze.Finding) {
			flagged[name][f.Src] = true
			found[name] = append(found[name], f)
			if name != "trw initiated-only" { // no report runs it
				fresh = append(fresh, f)
			}
		}
	}
	w := weighted.New(sitePolicy().WeightedConfig(), sink("weighted-ports"))
	pol := sitePolicy()
	tw := trw.New(pol.TRWConfig(), sink("trw"))
	strict := pol.TRWConfig()
	strict.InitiatedOnly = true
	tws := trw.New(strict, sink("trw initiated-only"))
	h := heuristics.New(siteHeuristics(tr), sink("heuristics"))
	ds := dscan.New(dscan.DefaultConfig(), func(e dscan.Event) {
		if e.Kind == dscan.EvFinding {
			sink0 := flagged["dscan"]
			sink0[e.Finding.Src] = true
			found["dscan"] = append(found["dscan"], e.Finding)
			fresh = append(fresh, e.Finding)
		}
	})
	flagged["dscan"] = map[netip.Addr]bool{}
	vs := vscan.New(vscan.DefaultConfig(), sink("vscan"))
	gs := guess.New(guess.DefaultConfig(), sink("guess"))
	// The report's own path: every detector's findings (but the strict
	// TRW, which no report runs) into the episode accountant, host roles
	// beside it, then the assessment, which holds back what roles explain.
	acc := episode.New(episode.Config{Local: pol.LocalPrefixes()})
	ro := roles.New(roles.DefaultConfig())
	const bs = 1024
	feed := func() {
		for _, f := range fresh {
			acc.AddFinding(f)
		}
		fresh = fresh[:0]
	}
	for i := 0; i < len(recs); i += bs {
		b := flow.Batch(recs[i:min(i+bs, len(recs))])
		acc.Add(b)
		ro.Add(b)
		w.Add(b)
		tw.Add(b)
		tws.Add(b)
		h.Add(b)
		ds.Process(b)
		vs.Add(b)
		gs.Add(b)
		feed()
	}
	tw.Flush()
	tws.Flush()
	ds.Flush()
	vs.Flush()
	feed()
	res := assess.Assess(acc.Result(), ro.Roles(), pol.LocalPrefixes())
	flagged["report, counted"] = map[netip.Addr]bool{}
	for _, f := range res.Findings {
		if !f.HeldBack {
			flagged["report, counted"][f.Src] = true
		}
	}
	return flagged, found
}

type score struct {
	tp, fp, fn   int
	missed, fals []string
}

func (s score) recall() float64    { return ratio(s.tp, s.tp+s.fn) }
func (s score) precision() float64 { return ratio(s.tp, s.tp+s.fp) }
func ratio(a, b int) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}

// scoreOf counts per source: positives are the truth's scanners (for the
// scan detectors) or scanners and other malicious hosts (for the
// heuristics and "all"); a flagged source that is in no event with those
// marks is a false positive.
func scoreOf(flagged map[netip.Addr]bool, tr *samples.Truth, malicious bool) score {
	pos := map[netip.Addr]string{}
	bad := map[netip.Addr]bool{}
	for _, e := range tr.Events {
		a := netip.MustParseAddr(e.Src)
		if e.Scanner || (malicious && e.Malicious) {
			pos[a] = e.ID
		}
		if e.Scanner || e.Malicious {
			bad[a] = true
		}
	}
	var s score
	for a, id := range pos {
		if flagged[a] {
			s.tp++
		} else {
			s.fn++
			s.missed = append(s.missed, id)
		}
	}
	for a := range flagged {
		if _, ok := pos[a]; !ok && !bad[a] {
			s.fp++
			s.fals = append(s.fals, a.String())
		}
	}
	slices.Sort(s.missed)
	slices.Sort(s.fals)
	return s
}

func TestEvaluation(t *testing.T) {
	cfg := samples.Config{Seed: 1, Flows: 200000, Start: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), Hours: 6}
	if testing.Short() {
		cfg.Flows = 60000
	}
	recs, tr, err := samples.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	flagged, found := run(recs, tr)
	for _, f := range found["trw"] {
		if f.Attempts < 4 || f.Score < 99 {
			t.Errorf("trw finding below η1: %+v", f)
		}
	}
	all := map[netip.Addr]bool{}
	for _, n := range []string{"weighted-ports", "trw", "heuristics"} {
		for a := range flagged[n] {
			all[a] = true
		}
	}
	flagged["all three"] = all
	allD := map[netip.Addr]bool{}
	for a := range all {
		allD[a] = true
	}
	for a := range flagged["dscan"] {
		allD[a] = true
	}
	flagged["all + dscan"] = allD

	// Recall and precision floors ({recall, precision}): what the detectors
	// reach on this data (full and -short), so a regression fails.
	// weighted-ports only sees port scans (B, G) by design. dscan's floors
	// were measured on the generated archive: recall 0.71 (5 of 7), precision
	// 0.24 (5 of 21) with 200000 flows, 0.86 and 0.43 with -short; "all +
	// dscan" measured precision 0.37 (10 of 27) and 0.56.
	floors := map[string][2]float64{
		"dscan": {0.7, 0.23}, "weighted-ports": {0.28, 1}, "trw": {0.71, 0.8}, "trw initiated-only": {0.71, 0.02},
		"heuristics": {0.6, 1}, "all three": {1, 0.9}, "all + dscan": {1, 0.35},
		// The generated archive holds no vertical scan slow enough to
		// escape the others and no password guessing: vscan finds the
		// port scans (B, G), guess nothing, and neither may blame a
		// benign host. "report, counted" is what --fail-on-findings
		// counts: every detector, dscan included, less the findings host
		// roles hold back; measured 1.00 and 0.91 (10 of 11), where dscan's
		// busy servers and clients made "all + dscan" 0.37.
		"vscan": {0.28, 1}, "guess": {0, 1}, "report, counted": {1, 0.9},
	}
	var tab strings.Builder
	fmt.Fprintf(&tab, "Samples: seed %d, %d flows, %d h; per source. Positives: %s\n\n", cfg.Seed, cfg.Flows, cfg.Hours,
		"scanners (A-G) for the scan detectors; scanners + malicious hosts (P, Q, R) for heuristics and the unions")
	fmt.Fprintf(&tab, "| detector | TP | FP | FN | recall | precision | missed | false positives |\n|---|---|---|---|---|---|---|---|\n")
	for _, n := range []string{"dscan", "weighted-ports", "trw", "trw initiated-only", "heuristics", "vscan", "guess", "all three", "all + dscan", "report, counted"} {
		mal := n == "heuristics" || strings.HasPrefix(n, "all") || strings.HasPrefix(n, "report")
		s := scoreOf(flagged[n], tr, mal)
		fps := s.fals
		if len(fps) > 5 {
			fps = append(slices.Clone(fps[:5]), fmt.Sprintf("... (%d)", len(s.fals)))
		}
		fmt.Fprintf(&tab, "| %s | %d | %d | %d | %.2f | %.2f | %s | %s |\n", n, s.tp, s.fp, s.fn, s.recall(), s.precision(),
			strings.Join(s.missed, " "), strings.Join(fps, " "))
		f := floors[n]
		if s.recall() < f[0] || s.precision() < f[1] {
			t.Errorf("%s: recall %.2f precision %.2f below floors %.2f %.2f", n, s.recall(), s.precision(), f[0], f[1])
		}
	}
	// Which rules caught each injected event.
	fmt.Fprintf(&tab, "\n| event | kind | source | fired (detector: kind) |\n|---|---|---|---|\n")
	for _, e := range tr.Events {
		a := netip.MustParseAddr(e.Src)
		var hits []string
		for _, n := range []string{"dscan", "weighted-ports", "trw", "heuristics", "vscan", "guess"} {
			for _, f := range found[n] {
				if f.Src == a {
					h := n + ": " + string(f.Kind)
					if !slices.Contains(hits, h) {
						hits = append(hits, h)
					}
				}
			}
		}
		slices.Sort(hits)
		fmt.Fprintf(&tab, "| %s | %s | %s | %s |\n", e.ID, e.Kind, e.Src, strings.Join(hits, ", "))
	}
	t.Log("\n" + tab.String())
	checkGolden(t, filepath.Join("testdata", "table.md"), tab.String())
}

// checkGolden compares the table of the full run with the file, or with
// -update rewrites the file. A -short run makes a different table and
// leaves the file alone.
func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if testing.Short() {
		if *update {
			t.Fatalf("-update rewrites %s from the full run: run it without -short", path)
		}
		t.Logf("-short: the table is not compared with %s", path)
		return
	}
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./analyze/eval -update writes it)", err)
	}
	if string(want) != got {
		t.Errorf("the evaluation table differs from %s (- file, + this run); if the change is meant, "+
			"go test ./analyze/eval -update rewrites the file:\n%s", path, lineDiff(string(want), got))
	}
}

// lineDiff returns a unified-style diff of two texts by lines: the lines
// only in a marked "-", the lines only in b "+", and up to two unchanged
// lines either side of each change.
func lineDiff(a, b string) string {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	// lcs[i][j] is the length of the longest common subsequence of x[i:]
	// and y[j:]; the tables are a few dozen lines.
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type line struct {
		op   byte
		text string
	}
	var ls []line
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			ls = append(ls, line{' ', x[i]})
			i++
			j++
		case i < len(x) && (j == len(y) || lcs[i+1][j] >= lcs[i][j+1]):
			ls = append(ls, line{'-', x[i]})
			i++
		default:
			ls = append(ls, line{'+', y[j]})
			j++
		}
	}
	const context = 2
	show := make([]bool, len(ls))
	for k, l := range ls {
		if l.op != ' ' {
			for c := max(k-context, 0); c <= min(k+context, len(ls)-1); c++ {
				show[c] = true
			}
		}
	}
	var out strings.Builder
	for k, l := range ls {
		if !show[k] {
			continue
		}
		if k > 0 && !show[k-1] && out.Len() > 0 {
			out.WriteString("...\n")
		}
		fmt.Fprintf(&out, "%c %s\n", l.op, l.text)
	}
	return out.String()
}
