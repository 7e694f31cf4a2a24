package eval

import (
	"testing"
	"time"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/analyze/dscan"
	"github.com/flowsift/flowsift/analyze/heuristics"
	"github.com/flowsift/flowsift/analyze/trw"
	"github.com/flowsift/flowsift/analyze/weighted"
	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/internal/benchfix"
	"github.com/flowsift/flowsift/samples"
)

func benchPass(b *testing.B, mk func(tr *samples.Truth, sink analyze.Sink) func(flow.Batch)) {
	// The samples generator's million-flow archive, in memory: the
	// benchmark measures the detectors, not decoding.
	recs, tr := benchfix.Flows1M(b)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		add := mk(tr, func(analyze.Finding) {})
		for j := 0; j < len(recs); j += 1024 {
			add(flow.Batch(recs[j:min(j+1024, len(recs))]))
		}
	}
	el := time.Since(start)
	b.ReportMetric(float64(b.N*len(recs))/el.Seconds(), "flows/s")
	b.ReportMetric(float64(el.Nanoseconds())/float64(b.N*len(recs)), "ns/flow")
}

func BenchmarkDscan(b *testing.B) {
	benchPass(b, func(_ *samples.Truth, _ analyze.Sink) func(flow.Batch) {
		e := dscan.New(dscan.DefaultConfig(), func(dscan.Event) {})
		return e.Process
	})
}

func BenchmarkWeighted(b *testing.B) {
	benchPass(b, func(_ *samples.Truth, s analyze.Sink) func(flow.Batch) {
		return weighted.New(weighted.DefaultConfig(), s).Add
	})
}

func BenchmarkTRW(b *testing.B) {
	benchPass(b, func(_ *samples.Truth, s analyze.Sink) func(flow.Batch) {
		return trw.New(trw.DefaultConfig(), s).Add
	})
}

func BenchmarkHeuristics(b *testing.B) {
	benchPass(b, func(tr *samples.Truth, s analyze.Sink) func(flow.Batch) {
		return heuristics.New(siteHeuristics(tr), s).Add
	})
}

func BenchmarkAllThree(b *testing.B) {
	benchPass(b, func(tr *samples.Truth, s analyze.Sink) func(flow.Batch) {
		w, t, h := weighted.New(weighted.DefaultConfig(), s), trw.New(trw.DefaultConfig(), s), heuristics.New(siteHeuristics(tr), s)
		return func(bt flow.Batch) { w.Add(bt); t.Add(bt); h.Add(bt) }
	})
}
