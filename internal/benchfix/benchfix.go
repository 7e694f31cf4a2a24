// Package benchfix holds what the benchmarks share: the generated
// 1,000,000-flow tree their figures are measured on, a generated stream of
// many sources, a loop that measures a consumer per flow, and the
// process's CPU time. (A real tree read into memory is package benchtree:
// it needs ingest, whose own benchmarks use this package.)
package benchfix

import (
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/samples"
)

// Tree1M is a generated compressed flow-capture tree of 1,000,000 flows
// (one day, seed 1), made once per machine under the temporary directory.
func Tree1M(b testing.TB) string {
	b.Helper()
	tree, err := samples.CachedTree(filepath.Join(os.TempDir(), "flowsift-bench-1m"), samples.Config{Seed: 1, Flows: 1_000_000, Hours: 24})
	if err != nil {
		b.Fatal(err)
	}
	return tree
}

var (
	flowsOnce  sync.Once
	flows1M    []flow.Record
	truth1M    *samples.Truth
	flows1MErr error
)

// Flows1M is the same million flows as Tree1M, generated in memory (once
// per process): for benchmarks that measure a consumer, not decoding.
func Flows1M(b testing.TB) ([]flow.Record, *samples.Truth) {
	b.Helper()
	flowsOnce.Do(func() {
		flows1M, truth1M, flows1MErr = samples.Generate(samples.Config{Seed: 1, Flows: 1_000_000, Hours: 24})
	})
	if flows1MErr != nil {
		b.Fatal(flows1MErr)
	}
	return flows1M, truth1M
}

// CPUTime is the process's user plus system CPU time so far. On a shared
// machine the wall time of a run swings with the neighbours' load; the CPU
// time it needs swings far less, and with every core busy it is what the
// wall time follows.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var (
	streamsMu sync.Mutex
	streams   = map[[2]int][]flow.Record{}
)

// Stream is a generated many-source stream, held in memory (once per
// process for each size): the sample generator's site traffic and injected
// scans, plus one new background source for every ten flows (three probes
// each), about the mix of a real uplink's archive (a 3-day tree of 1.0 M
// flows had 105 k sources).
func Stream(tb testing.TB, flows, hours int) []flow.Record {
	tb.Helper()
	streamsMu.Lock()
	defer streamsMu.Unlock()
	key := [2]int{flows, hours}
	if recs, ok := streams[key]; ok {
		return recs
	}
	recs, _, err := samples.Generate(samples.Config{Seed: 16, Flows: flows, Hours: hours, BackgroundSources: flows / 10})
	if err != nil {
		tb.Fatal(err)
	}
	streams[key] = recs
	return recs
}

// PerFlow runs a consumer over recs b.N times, each time a fresh one from
// start, fed in batches of 4,096 as the pass hands them and finished with
// the function start returned, and reports its time and its CPU time (the
// garbage collector's included) per flow: on a shared machine the elapsed
// time says more about the neighbours.
func PerFlow(b *testing.B, recs []flow.Record, start func() (add func(flow.Batch), finish func())) {
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := CPUTime()
	for b.Loop() {
		add, finish := start()
		for i := 0; i < len(recs); i += 4096 {
			add(recs[i:min(i+4096, len(recs))])
		}
		finish()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/flow")
	b.ReportMetric(float64(CPUTime()-cpu0)/float64(b.N*len(recs)), "cpu-ns/flow")
}

// HeapAlloc is the live heap after two collections (the second frees what
// the first's finalizers let go), as a signed number so that a heap that
// shrank between two readings gives a negative difference, not a wrapped
// one.
func HeapAlloc() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// Probes is n sources of background radiation as samples makes them:
// three unanswered SYNs each, to three destinations, one source a
// millisecond. The memory benchmarks measure a source's bytes on it.
func Probes(n int) flow.Batch {
	batch := make(flow.Batch, 0, 3*n)
	for i := range n {
		for k := range 3 {
			batch = append(batch, flow.Record{Start: int64(i), End: int64(i), Src: flow.AddrFromU32(0x2D000000 + uint32(i)),
				Dst: flow.AddrFromU32(0x0A140000 + uint32(i*3+k)&0xffff), SrcPort: 40000, DstPort: 445, Proto: 6, TCPFlags: flow.TCPSyn, Packets: 1})
		}
	}
	return batch
}
