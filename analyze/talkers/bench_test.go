package talkers_test

import (
	"testing"

	"github.com/flowsift/flowsift/analyze/talkers"
	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/internal/benchfix"
	"github.com/flowsift/flowsift/internal/benchtree"
)

// BenchmarkCount counts the generated million flows (the 1M tree's flows,
// in memory, in 4096-flow batches, ingest's default) and builds
// every table: the talkers' whole share of a report.
func BenchmarkCount(b *testing.B) {
	recs, _ := benchfix.Flows1M(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		countAll(recs, 4096)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/flow")
}

// BenchmarkTables builds every table from the counts of the generated
// million flows: the talkers' share of the report's serial tail.
func BenchmarkTables(b *testing.B) {
	recs, _ := benchfix.Flows1M(b)
	c := talkers.New(talkers.Config{})
	c.Add(flow.Batch(recs))
	b.ResetTimer()
	for b.Loop() {
		_ = c.Tables()
	}
}

// BenchmarkArchive counts the tree FLOWSIFT_BENCH_TREE names (the 3-day,
// 1.0 M-flow tree of issue 16, say), held in memory, and builds every
// table.
func BenchmarkArchive(b *testing.B) {
	recs := benchtree.Archive(b)
	start := benchfix.CPUTime()
	b.ResetTimer()
	for b.Loop() {
		countAll(recs, 16384)
	}
	b.ReportMetric(float64((benchfix.CPUTime()-start).Nanoseconds())/float64(b.N*len(recs)), "cpu-ns/flow")
}

// countAll counts recs in batches of n flows and builds every table.
func countAll(recs []flow.Record, n int) {
	c := talkers.New(talkers.Config{})
	for j := 0; j < len(recs); j += n {
		c.Add(flow.Batch(recs[j:min(j+n, len(recs))]))
	}
	_ = c.Tables()
}
