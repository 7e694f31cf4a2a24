package dscan

import (
	"runtime"
	"sync"
	"testing"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/internal/benchfix"
	"github.com/flowsift/flowsift/internal/benchtree"
	"github.com/flowsift/flowsift/samples"
)

var (
	benchOnce  sync.Once
	benchFlows []flow.Record
)

// benchInput is a 1,000,000-flow day of the sample generator, in memory.
func benchInput(b *testing.B) []flow.Record {
	benchOnce.Do(func() {
		recs, _, err := samples.Generate(samples.Config{Seed: 1, Flows: 1_000_000, Hours: 24})
		if err != nil {
			b.Fatal(err)
		}
		benchFlows = recs
	})
	return benchFlows
}

func benchEngine(b *testing.B, newEngine func() interface {
	Process(flow.Batch)
}) {
	flows := benchInput(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e := newEngine()
		for k := 0; k < len(flows); k += 4096 {
			e.Process(flows[k:min(k+4096, len(flows))])
		}
		if f, ok := e.(interface{ Flush() }); ok {
			f.Flush() // the default engine's goroutines
		}
	}
	b.ReportMetric(float64(len(flows)*b.N)/b.Elapsed().Seconds(), "flows/s")
}

func BenchmarkCompat(b *testing.B) {
	benchEngine(b, func() interface {
		Process(flow.Batch)
	} {
		return NewCompat(DefaultConfig(), func(Event) {})
	})
}

func BenchmarkDefaultJ1(b *testing.B) {
	benchEngine(b, func() interface {
		Process(flow.Batch)
	} {
		return New(DefaultConfig(), func(Event) {})
	})
}

func BenchmarkDefaultJ2(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Jobs = 2
	benchEngine(b, func() interface {
		Process(flow.Batch)
	} {
		return New(cfg, func(Event) {})
	})
}

// BenchmarkBytesPerSource and BenchmarkBytesPerDestination measure the
// default engine's table: a source with one destination, and each further
// destination of one source.
func BenchmarkBytesPerSource(b *testing.B) {
	b.ReportMetric(bytesPer(func(i int) flow.Record {
		return flow.Record{Src: flow.AddrFromU32(0x0A000000 + uint32(i)), Dst: flow.AddrFromU32(0xC0000201), DstPort: 80}
	}), "B/source")
}

func BenchmarkBytesPerDestination(b *testing.B) {
	b.ReportMetric(bytesPer(func(i int) flow.Record {
		return flow.Record{Src: flow.AddrFromU32(0xC0000201), Dst: flow.AddrFromU32(0x0A000000 + uint32(i)), DstPort: 8080}
	}), "B/destination")
}

func bytesPer(mk func(int) flow.Record) float64 {
	const n = 200_000
	cfg := DefaultConfig()
	cfg.AgerTimeout = 0
	cfg.Depth = 1 << 30 // no host scan: a reported scanner's list is capped at D
	batch := make(flow.Batch, n)
	for i := range batch {
		batch[i] = mk(i)
	}
	before := benchfix.HeapAlloc()
	e := New(cfg, nil)
	e.Process(batch)
	after := benchfix.HeapAlloc()
	runtime.KeepAlive(e)
	runtime.KeepAlive(batch) // else it is freed before after is read
	return float64(after-before) / n
}

// BenchmarkArchive is the default engine's cost per flow, one goroutine,
// on the tree FLOWSIFT_BENCH_TREE names (the 3-day, 1.0 M-flow tree of
// issue 16, say), held in memory.
func BenchmarkArchive(b *testing.B) {
	benchfix.PerFlow(b, benchtree.Archive(b), func() (func(flow.Batch), func()) {
		e := New(DefaultConfig(), func(Event) {})
		return e.Process, e.Flush
	})
}
