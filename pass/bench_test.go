package pass

import (
	"context"
	"testing"

	"github.com/flowsift/flowsift/analyze/dscan"
	"github.com/flowsift/flowsift/internal/benchfix"
)

// The dscan pass (walk, decode, merge, default engine: what `flowsift dscan
// -j 2` does, without printing) with and without the other detectors
// running beside the engine as the report runs them. The ratio of the two
// is the detectors' cost over the dscan pass.
func BenchmarkPassDscan(b *testing.B)          { benchPass(b, false) }
func BenchmarkPassDscanDetectors(b *testing.B) { benchPass(b, true) }

func benchPass(b *testing.B, withDetectors bool) {
	tree := benchfix.Tree1M(b)
	b.ResetTimer()
	cpu0 := benchfix.CPUTime()
	for i := 0; i < b.N; i++ {
		cfg := DefaultConfiguration()
		cfg.Jobs = 2
		dc := cfg.Dscan
		dc.Jobs = 2
		var alerts int
		as := []Analyser{NewDscan(dc, false, func(dscan.Event) { alerts++ })}
		var dets []*detector
		if withDetectors {
			for _, d := range detectors[1:] {
				dets = append(dets, newDetector(d.name, &cfg, d.new))
				as = append(as, dets[len(dets)-1])
			}
		}
		if _, err := Run(context.Background(), cfg, Inputs{Paths: []string{tree}}, as); err != nil {
			b.Fatal(err)
		}
		found := 0
		for _, d := range dets {
			for _, n := range d.found {
				found += int(n)
			}
		}
		if alerts == 0 || (withDetectors && found == 0) {
			b.Fatalf("no alerts (%d) or findings (%d): the tree has scanners", alerts, found)
		}
	}
	b.ReportMetric(float64(1_000_000*b.N)/b.Elapsed().Seconds(), "flows/s")
	b.ReportMetric((benchfix.CPUTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
}
