package trw

import (
	"runtime"
	"testing"
	"unsafe"

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

// BenchmarkBytesPerSource measures what a source of background radiation
// (three unanswered probes to three destinations, as samples makes them)
// takes in the detector beside its pairs and its queued contacts, among
// 2^18 sources, once their contacts are decided: sourceBytes.
func BenchmarkBytesPerSource(b *testing.B) {
	var per float64
	for b.Loop() {
		per = bytesPerSource(1 << 18)
	}
	b.ReportMetric(per, "B/source")
}

func bytesPerSource(n int) float64 {
	batch := benchfix.Probes(n)
	before := benchfix.HeapAlloc()
	d := New(Config{}, func(analyze.Finding) {})
	d.Add(batch)
	d.expire(1<<62, false)
	held := benchfix.HeapAlloc() - before - int64(d.seen.v4.Slots())*24 - int64(cap(d.queue))*int64(unsafe.Sizeof(contact{}))
	runtime.KeepAlive(d)
	runtime.KeepAlive(batch) // not the detector's: live on both sides
	return float64(held) / float64(n)
}
