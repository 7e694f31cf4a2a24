package heuristics

import (
	"testing"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/internal/benchfix"
	"github.com/flowsift/flowsift/internal/benchtree"
)

// BenchmarkArchive is the detector's cost per flow on the tree
// FLOWSIFT_BENCH_TREE names (the 3-day, 1.0 M-flow tree of issue 16, say),
// held in memory.
func BenchmarkArchive(b *testing.B) {
	benchfix.PerFlow(b, benchtree.Archive(b), func() (func(flow.Batch), func()) {
		d := New(Config{}, func(analyze.Finding) {})
		return d.Add, func() {}
	})
}
