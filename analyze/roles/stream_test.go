package roles

import (
	"bytes"
	"flag"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/internal/benchfix"
	"github.com/flowsift/flowsift/internal/benchtree"
	"github.com/flowsift/flowsift/internal/fixture"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// dump writes everything the analyser found, in a stable form.
func dump(a *Analyser) []byte {
	var b bytes.Buffer
	for _, r := range a.Roles() {
		fmt.Fprintf(&b, "%s %s truncated=%v\n", r.Addr, r.Why(), r.Truncated)
		if r.ScanSigns {
			for _, f := range r.ScanFigs {
				fmt.Fprintf(&b, "  scan sign: %s\n", f)
			}
		}
	}
	fmt.Fprintf(&b, "hosts held %d, forgotten %d, presses %d, full %v\n", a.hosts.len(), a.forgotten, a.presses, a.full)
	return b.Bytes()
}

// The roles of a generated many-source stream, with the default table and
// with one small enough to be pressed many times, must stay what they
// were: a change of the tables' layout for speed must change no result.
func TestGeneratedStreamGolden(t *testing.T) {
	recs := benchfix.Stream(t, 200_000, 48)
	for _, c := range []struct {
		name     string
		maxHosts int
	}{{"default", 0}, {"pressed", 2048}, {"full", 64}} {
		t.Run(c.name, func(t *testing.T) {
			a := New(Config{MaxHosts: c.maxHosts})
			for i := 0; i < len(recs); i += 4096 {
				a.Add(recs[i:min(i+4096, len(recs))])
			}
			got := dump(a)
			// A pressed table follows its new hosts in the structs of
			// those it forgot: the golden says they start empty.
			if c.maxHosts != 0 && a.reused == 0 {
				t.Errorf("no forgotten host was reused (%d forgotten)", a.forgotten)
			}
			fixture.Golden(t, filepath.Join("testdata", "stream-"+c.name+".golden"), got, *update)
		})
	}
}

// BenchmarkStream is the analyser's cost per flow on a 3-day stream of
// 600 k flows and 60 k background sources.
func BenchmarkStream(b *testing.B) {
	benchFlows(b, benchfix.Stream(b, 600_000, 72))
}

// benchFlows is the analyser's time and CPU time per flow over recs.
func benchFlows(b *testing.B, recs []flow.Record) {
	benchfix.PerFlow(b, recs, func() (func(flow.Batch), func()) {
		a := New(Config{})
		return a.Add, func() { a.Roles() }
	})
}

// BenchmarkArchive is the cost per flow on the tree FLOWSIFT_BENCH_TREE
// names (the 3-day, 1.0 M-flow tree of issue 16, say), held in memory.
func BenchmarkArchive(b *testing.B) { benchFlows(b, benchtree.Archive(b)) }

// BenchmarkBytesPerHost measures what a host of background radiation (a
// source of three probes to three destinations, as samples makes them)
// takes among 2^18, and among 200 k, just past the host table's doubling,
// where its slots are the emptiest: HostBytes.
func BenchmarkBytesPerHost(b *testing.B) {
	var per, worst float64
	for b.Loop() {
		per = bytesPerHost(1 << 18)
		worst = bytesPerHost(1<<18*3/4 + 1<<12)
	}
	b.ReportMetric(per, "B/host")
	b.ReportMetric(worst, "B/host-worst")
}

func bytesPerHost(n int) float64 {
	batch := benchfix.Probes(n)
	before := benchfix.HeapAlloc()
	a := New(Config{MaxHosts: 2 * n})
	a.Add(batch)
	per := float64(benchfix.HeapAlloc()-before) / float64(n)
	runtime.KeepAlive(a)
	runtime.KeepAlive(batch) // not the analyser's: live on both sides
	return per
}
