package trw

import (
	"testing"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/internal/benchfix"
	"github.com/flowsift/flowsift/internal/benchtree"
)

// BenchmarkStream is the detector's cost per flow on a 3-day stream of
// 600 k flows and 60 k background sources.
func BenchmarkStream(b *testing.B) {
	benchFlows(b, benchfix.Stream(b, 600_000, 72))
}

// BenchmarkArchive is the cost per flow on the tree FLOWSIFT_BENCH_TREE
// names (the 3-day, 1.0 M-flow tree of issue 16, say), held in memory.
func BenchmarkArchive(b *testing.B) { benchFlows(b, benchtree.Archive(b)) }

func benchFlows(b *testing.B, recs []flow.Record) {
	benchfix.PerFlow(b, recs, func() (func(flow.Batch), func()) {
		d := New(Config{}, func(analyze.Finding) {})
		return d.Add, d.Flush
	})
}
