package eval

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/analyze/trw"
	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/samples"
)

// TRW's horizon (state forgotten after a day of silence, walks restarted
// after a day undecided) must not cost recall on the labelled data. Over
// a month of the sample site, TRW is scored with the horizon and with
// state kept forever: the horizon finds every scanner the unbounded test
// finds, and its false positives (hosts of the ordinary traffic whose
// stray probes add up over weeks) do not grow. The table goes to
// testdata/trw-horizon.md with -update.
func TestTRWHorizonRecall(t *testing.T) {
	cfg := samples.Config{Seed: 11, Flows: 1_500_000, Start: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), Hours: 31 * 24}
	if testing.Short() {
		cfg.Flows, cfg.Hours = 300_000, 7*24
	}
	recs, tr, err := samples.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	scoreTRW := func(c trw.Config) (score, *trw.Detector) {
		flagged := map[netip.Addr]bool{}
		d := trw.New(c, func(f analyze.Finding) { flagged[f.Src] = true })
		for i := 0; i < len(recs); i += 16 << 10 {
			d.Add(flow.Batch(recs[i:min(i+16<<10, len(recs))]))
		}
		d.Flush()
		return scoreOf(flagged, tr, false), d
	}
	day := sitePolicy().TRWConfig()
	if day.HorizonMS != 0 && day.HorizonMS != trw.DefaultHorizon {
		t.Fatalf("the site policy sets a horizon of %d ms; this test is about the default", day.HorizonMS)
	}
	forever := day
	forever.HorizonMS = -1
	sd, dd := scoreTRW(day)
	sf, df := scoreTRW(forever)

	var tab strings.Builder
	fmt.Fprintf(&tab, "Samples: seed %d, %d flows, %d days; TRW per source, scanners (A-G) positive.\n\n", cfg.Seed, cfg.Flows, cfg.Hours/24)
	fmt.Fprintf(&tab, "| TRW state | TP | FP | FN | recall | precision | missed | pairs held at the end | sources held |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range []struct {
		name string
		s    score
		d    *trw.Detector
	}{{"horizon 1 day (default)", sd, dd}, {"kept forever", sf, df}} {
		p, s := r.d.Tracked()
		fmt.Fprintf(&tab, "| %s | %d | %d | %d | %.2f | %.2f | %s | %d | %d |\n", r.name, r.s.tp, r.s.fp, r.s.fn, r.s.recall(), r.s.precision(),
			strings.Join(r.s.missed, " "), p, s)
	}
	for _, id := range sf.missed {
		sd.missed = slices.DeleteFunc(sd.missed, func(m string) bool { return m == id })
	}
	if sd.recall() < sf.recall() || len(sd.missed) != 0 {
		t.Errorf("the horizon misses %v, which state kept forever finds (recall %.2f against %.2f)", sd.missed, sd.recall(), sf.recall())
	}
	if sd.fp > sf.fp {
		t.Errorf("the horizon flags %d false positives, state kept forever %d", sd.fp, sf.fp)
	}
	if pd, _ := dd.Tracked(); !testing.Short() {
		if pf, _ := df.Tracked(); pd*4 > pf {
			t.Errorf("the horizon holds %d pairs at the end of a month, forever %d: want a fraction", pd, pf)
		}
	}
	if testing.Short() {
		return
	}
	gold := filepath.Join("testdata", "trw-horizon.md")
	if *update {
		if err := os.WriteFile(gold, []byte(tab.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if want, err := os.ReadFile(gold); err != nil || string(want) != tab.String() {
		t.Errorf("table differs from %s (run with -update):\n%s", gold, tab.String())
	}
}
