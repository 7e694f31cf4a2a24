package vscan

import (
	"bytes"
	"flag"
	"fmt"
	"iter"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/analyze/internal/addrkey"
	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/internal/benchfix"
	"github.com/flowsift/flowsift/internal/benchtree"
	"github.com/flowsift/flowsift/internal/fixture"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// The findings on a generated many-source stream, with the default table,
// with a short horizon (many sweeps) and with a table small enough to be
// pressed many times, must stay what they were: a change of the tables'
// layout for speed must change no result.
func TestGeneratedStreamGolden(t *testing.T) {
	recs := benchfix.Stream(t, 200_000, 48)
	for _, c := range []struct {
		name string
		cfg  Config
	}{{"default", Config{}}, {"horizon", Config{HorizonMS: 120_000}}, {"pressed", Config{MaxPairs: 4096}}} {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			d := New(c.cfg, func(f analyze.Finding) {
				fmt.Fprintf(&b, "%d %d %s %s %v %v %d %v | %s\n", f.Index, f.Time, f.Src, f.Dst, f.Value, f.Score, f.Attempts, f.Ports, f.Note)
			})
			for i := 0; i < len(recs); i += 4096 {
				d.Add(recs[i:min(i+4096, len(recs))])
			}
			d.Flush()
			fmt.Fprintf(&b, "untracked %d, presses %d, shortest %d\n", d.Untracked(), d.presses, d.shortest)
			got := b.Bytes()
			fixture.Golden(t, filepath.Join("testdata", "stream-"+c.name+".golden"), got, *update)
		})
	}
}

// BenchmarkStream is the detector's cost per flow on a 3-day stream of
// 600 k flows and 60 k background sources.
func BenchmarkStream(b *testing.B) {
	benchFlows(b, benchfix.Stream(b, 600_000, 72))
}

// benchFlows is the analyser's time and CPU time per flow over recs.
func benchFlows(b *testing.B, recs []flow.Record) {
	benchfix.PerFlow(b, recs, func() (func(flow.Batch), func()) {
		d := New(Config{}, func(analyze.Finding) {})
		return d.Add, d.Flush
	})
}

// BenchmarkArchive is the cost per flow on the tree FLOWSIFT_BENCH_TREE
// names (the 3-day, 1.0 M-flow tree of issue 16, say), held in memory.
func BenchmarkArchive(b *testing.B) { benchFlows(b, benchtree.Archive(b)) }

// BenchmarkBytesPerPair measures what a pair of one service (a probe of
// background radiation) takes, table slot included, among 2^21 (MaxPairs'
// default) and among 1.6 M, just past the table's growth, where its slots
// are the emptiest: PairBytes must hold there too.
func BenchmarkBytesPerPair(b *testing.B) {
	var per, worst float64
	for b.Loop() {
		per = bytesPerPair(1 << 21)
		worst = bytesPerPair(1<<21*3/4 + 1<<14)
	}
	b.ReportMetric(per, "B/pair")
	b.ReportMetric(worst, "B/pair-worst")
}

func bytesPerPair(n int) float64 {
	batch := make(flow.Batch, 4096)
	before := benchfix.HeapAlloc()
	d := New(Config{MaxPairs: n}, func(analyze.Finding) {})
	for i := 0; i < n; i += len(batch) {
		batch = batch[:min(len(batch), n-i)]
		for k := range batch {
			batch[k] = flow.Record{Src: flow.AddrFromU32(0x2D000000 + uint32(i+k)), Dst: flow.AddrFromU32(0x0A140001),
				SrcPort: 40000, DstPort: 445, Proto: 6, TCPFlags: flow.TCPSyn, Packets: 1}
		}
		d.Add(batch)
	}
	d.expire(1 << 62) // the pending queue is not the pairs' cost
	d.queue = nil
	per := float64(benchfix.HeapAlloc()-before) / float64(n)
	runtime.KeepAlive(d)
	runtime.KeepAlive(batch) // not the detector's: live on both sides
	return per
}

// The sweep and the press keep a pair while a service of it waits for its
// reply: hasPending, which reads the first service's state packed beside
// the decided flag and the others in the side list, must say so exactly
// when a contact of the pair is still in the queue unsettled, through
// presses, sweeps and the side list's reuse of forgotten pairs' entries.
func TestHasPendingMatchesTheQueue(t *testing.T) {
	recs := benchfix.Stream(t, 200_000, 48)
	d := New(Config{MaxPairs: 1024, WindowMS: 600_000, HorizonMS: 1_200_000}, func(analyze.Finding) {})
	var pending, multi int
	for i := 0; i < len(recs); i += 512 {
		d.Add(recs[i:min(i+512, len(recs))])
		queued := map[pairKey]int{}
		for _, c := range d.queue[d.head:] {
			k := pairKey{addrkey.Of(c.Src), addrkey.Of(c.Dst)}
			if p := d.pairs.get(c.Src, c.Dst); p != nil {
				if j := d.pairs.find(p, svcKey{c.Proto, c.DstPort}); j != noService && d.pairs.state(p, j) == stPending {
					queued[k]++
				}
			} else {
				t.Fatalf("after flow %d: a pair with a contact queued was forgotten", i+512)
			}
		}
		for k, p := range pairsOf(&d.pairs) {
			if got, want := d.pairs.hasPending(p), queued[k] > 0; got != want {
				t.Fatalf("after flow %d: pair %v says pending %v, the queue %v", i+512, k, got, want)
			}
			if got, want := d.pairs.services(p), 1+len(d.pairs.others(p)); got != want || p.proto0 == 0 {
				t.Fatalf("after flow %d: pair %v holds %d services, or none", i+512, k, got)
			}
			if queued[k] > 0 {
				pending++
			}
			if p.more != 0 {
				multi++
			}
		}
	}
	if pending == 0 || multi == 0 || d.presses == 0 || len(d.pairs.free) == 0 {
		t.Fatalf("pending %d, pairs of several services %d, presses %d, side entries freed %d: the test tests too little",
			pending, multi, d.presses, len(d.pairs.free))
	}
}

// pairsOf yields every pair of t with its key.
func pairsOf(t *pairTable) iter.Seq2[pairKey, *pair] {
	return func(yield func(pairKey, *pair) bool) {
		for k4, p := range t.v4.All() {
			// The inverse of key4.
			k := pairKey{addrkey.Addr{0, 0xffff<<32 | k4>>32}, addrkey.Addr{0, 0xffff<<32 | k4&0xffffffff}}
			if !yield(k, p) {
				return
			}
		}
		for k, p := range t.v6 {
			if !yield(k, p) {
				return
			}
		}
	}
}

// The sweep reads the pairs aging lists instead of the whole table: it
// must forget the very pairs a sweep of every pair forgets, through
// presses (which forget pairs still listed), pairs that gain services in
// later buckets, and flows of hours whose start is far behind the stream
// (listed in a bucket already swept).
func TestAgingForgetsWhatAFullSweepWould(t *testing.T) {
	recs := slices.Clone(benchfix.Stream(t, 200_000, 48))
	for i := 0; i < len(recs); i += 997 {
		recs[i].Start = recs[i].End - 3*3_600_000
	}
	// And the stream moved to 1970, where the first pairs' latest start
	// is in the bucket of no start, and the long flows' starts before it.
	early := slices.Clone(recs)
	for i := range early {
		early[i].Start -= recs[0].End
		early[i].End -= recs[0].End
	}
	// A press every few minutes leaves many entries of pairs forgotten,
	// and with no slack the lists are rebuilt from the table often.
	for _, c := range []struct {
		recs  []flow.Record
		cfg   Config
		slack int
	}{{recs, Config{HorizonMS: 120_000}, 4096}, {recs, Config{HorizonMS: 600_000, MaxPairs: 512}, 0}, {early, Config{HorizonMS: 120_000}, 4096}} {
		recs, cfg := c.recs, c.cfg
		var got, want bytes.Buffer
		sink := func(b *bytes.Buffer) analyze.Sink {
			return func(f analyze.Finding) { fmt.Fprintf(b, "%d %s %s %v | %s\n", f.Index, f.Src, f.Dst, f.Ports, f.Note) }
		}
		a, full := New(cfg, sink(&got)), New(cfg, sink(&want))
		full.sweepAll = true
		a.aging.slack = c.slack
		shrank := 0
		for i := 0; i < len(recs); i += 256 {
			n := a.pairs.len()
			b := recs[i:min(i+256, len(recs))]
			a.Add(b)
			full.Add(b)
			if a.pairs.len() < n {
				shrank++
			}
			if d := diffPairs(&a.pairs, &full.pairs); d != "" {
				t.Fatalf("horizon %d ms, after flow %d: %s", cfg.HorizonMS, i+len(b), d)
			}
		}
		a.Flush()
		full.Flush()
		if got.String() != want.String() || got.Len() == 0 {
			t.Fatalf("horizon %d ms: findings\n%s\nwant\n%s", cfg.HorizonMS, got.String(), want.String())
		}
		if shrank == 0 || (c.slack == 0 && a.aging.rebuilds == 0) || (cfg.MaxPairs > 0 && a.presses == 0) {
			t.Fatalf("horizon %d ms: the table never shrank (%d), the lists were never rebuilt (%d) or the table was never pressed (%d): the test tests too little",
				cfg.HorizonMS, shrank, a.aging.rebuilds, a.presses)
		}
	}
}

// diffPairs says how two tables differ in their pairs and services ("" if
// not at all); where a pair's other services sit in the side list may.
func diffPairs(a, b *pairTable) string {
	if a.len() != b.len() {
		return fmt.Sprintf("%d pairs, want %d", a.len(), b.len())
	}
	for k, p := range pairsOf(a) {
		var q *pair
		if k4, ok := k.is4(); ok {
			q, _ = b.v4.Get(k4)
		} else {
			q = b.v6[k]
		}
		if q == nil {
			return fmt.Sprintf("pair %v held, not wanted", k)
		}
		x, y := *p, *q
		x.more, y.more = 0, 0
		if x != y || !slices.Equal(a.others(p), b.others(q)) {
			return fmt.Sprintf("pair %v is %+v %v, want %+v %v", k, x, a.others(p), y, b.others(q))
		}
	}
	return ""
}
