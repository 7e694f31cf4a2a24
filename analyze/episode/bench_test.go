package episode

import (
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/analyze/talkers"
	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/internal/benchfix"
	"github.com/flowsift/flowsift/internal/benchtree"
)

// benchFlows is a day of synthetic traffic: 20 000 clients talking to 2 000
// servers, plus 5 scanners sweeping a /16, in time order.
func benchFlows(n int) flow.Batch {
	rng := rand.New(rand.NewPCG(1, 2))
	out := make(flow.Batch, n)
	step := int64(86_400_000) / int64(n)
	for i := range out {
		st := t0 + int64(i)*step
		r := flow.Record{Start: st, End: st + int64(rng.IntN(2000)), Packets: uint64(1 + rng.IntN(50)), Proto: 6, TCPFlags: 0x1b}
		r.Octets = r.Packets * 500
		if i%100 == 0 {
			r.Src = flow.AddrFromU32(0xcb007100 + uint32(i/100%5))
			r.Dst = flow.AddrFromU32(0x0a000000 + uint32(rng.IntN(65536)))
			r.SrcPort, r.DstPort, r.TCPFlags, r.Packets, r.Octets = 40000, uint16(rng.IntN(1024)), flow.TCPSyn, 1, 40
		} else {
			r.Src = flow.AddrFromU32(0x0a100000 + uint32(rng.IntN(20000)))
			r.Dst = flow.AddrFromU32(0x0a200000 + uint32(rng.IntN(2000)))
			r.SrcPort, r.DstPort = uint16(1024+rng.IntN(60000)), []uint16{80, 443, 53, 25}[rng.IntN(4)]
			if r.DstPort == 53 {
				r.Proto, r.TCPFlags = 17, 0
			}
		}
		out[i] = r
	}
	return out
}

func benchN(b *testing.B) int {
	if testing.Short() {
		return 100_000
	}
	return 1_000_000
}

func runBench(b *testing.B, withTalkers, withEpisode bool) {
	flows := benchFlows(benchN(b))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var c *talkers.Counter
		var a *Accountant
		if withTalkers {
			c = talkers.New(talkers.Config{})
		}
		if withEpisode {
			a = New(Config{})
		}
		for i := 0; i < len(flows); i += 1024 {
			batch := flows[i:min(i+1024, len(flows))]
			if c != nil {
				c.Add(batch)
			}
			if a != nil {
				a.Add(batch)
				if i%100_000 == 0 {
					a.AddFinding(analyze.Finding{Detector: "dscan", Kind: analyze.HostScan, Src: batch[0].Src, Index: uint64(i + 1), Time: batch[0].Start})
				}
			}
		}
		if c != nil {
			_ = c.Tables()
		}
		if a != nil {
			_ = a.Result()
		}
	}
	b.ReportMetric(float64(len(flows))*float64(b.N)/b.Elapsed().Seconds(), "flows/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(flows)), "ns/flow")
}

func BenchmarkTalkers(b *testing.B)           { runBench(b, true, false) }
func BenchmarkEpisode(b *testing.B)           { runBench(b, false, true) }
func BenchmarkTalkersAndEpisode(b *testing.B) { runBench(b, true, true) }

// BenchmarkMemory reports the live heap per tracked key after accounting
// the flows (talkers: per source/destination/pair key; episode: per source
// with an open run).
func BenchmarkMemory(b *testing.B) {
	flows := benchFlows(benchN(b))
	var keep any
	for b.Loop() {
		var m0, m1, m2 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		c := talkers.New(talkers.Config{})
		c.Add(flows)
		runtime.GC()
		runtime.ReadMemStats(&m1)
		a := New(Config{})
		a.Add(flows)
		runtime.GC()
		runtime.ReadMemStats(&m2)
		keys := c.Distinct(talkers.SrcIP) + c.Distinct(talkers.DstIP) + c.Distinct(talkers.Pair)
		b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc-3*65536*40)/float64(keys), "talkers-B/addrkey")
		var runs, pairs int
		for _, s := range a.sources.all() {
			runs += len(s.runs)
			for _, r := range s.runs {
				r.dsts.finish(1 << 30)
				r.ports.compact(1 << 30)
				pairs += r.dsts.len() + len(r.ports.keys)
			}
		}
		b.ReportMetric(float64(m2.HeapAlloc-m1.HeapAlloc)/float64(a.sources.len()), "episode-B/source")
		b.ReportMetric(float64(a.sources.len()), "sources")
		b.ReportMetric(float64(pairs), "setentries")
		keep = []any{c, a}
	}
	_ = keep
}

// BenchmarkResult builds the views after a day of flows in which five
// scanners each hit about 10 000 hosts and every port below 1024: the
// serial step between the pass and the report.
func BenchmarkResult(b *testing.B) {
	flows := benchFlows(benchN(b))
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		a := New(Config{})
		for i := 0; i < len(flows); i += 1024 {
			a.Add(flows[i:min(i+1024, len(flows))])
		}
		for k := 0; k < 5; k++ {
			i := k * 100 // the first flow of scanner k
			a.AddFinding(analyze.Finding{Detector: "dscan", Kind: analyze.HostScan, Src: flows[i].Src, Index: uint64(i + 1), Time: flows[i].Start})
		}
		b.StartTimer()
		if res := a.Result(); len(res.Episodes) != 5 {
			b.Fatalf("%d episodes, want 5", len(res.Episodes))
		}
	}
}

// BenchmarkAccountGenerated accounts the generated million flows (the 1M
// tree's flows, in memory, in 4096-flow batches, ingest's default) and builds the
// views: the accountant's whole share of a report.
func BenchmarkAccountGenerated(b *testing.B) {
	recs, _ := benchfix.Flows1M(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		a := New(Config{})
		for j := 0; j < len(recs); j += 4096 {
			a.Add(flow.Batch(recs[j:min(j+4096, len(recs))]))
		}
		_ = a.Result()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/flow")
}

// BenchmarkArchive is the accountant's cost per flow on the tree
// FLOWSIFT_BENCH_TREE names (the 3-day, 1.0 M-flow tree of issue 16, say),
// held in memory; BenchmarkStream on 600 k generated flows of 60 k
// background sources over 3 days.
func BenchmarkArchive(b *testing.B) { benchAccount(b, benchtree.Archive(b)) }

func BenchmarkStream(b *testing.B) { benchAccount(b, benchfix.Stream(b, 600_000, 72)) }

func benchAccount(b *testing.B, recs []flow.Record) {
	benchfix.PerFlow(b, recs, func() (func(flow.Batch), func()) {
		a := New(Config{})
		return a.Add, func() { a.Result() }
	})
}
