package episode

import (
	"reflect"
	"testing"
)

// A run kept for reuse comes back as a new one would be, but for the
// storage of its small logs and tables; a big run's storage is let go.
func TestSpareRunEmptied(t *testing.T) {
	var p spares
	small, big := &run{}, &run{}
	for i := range 3 {
		small.ports.add(uint32(i), 100)
		small.dsts.inc(nth("10.0.0.1", i), 100)
	}
	small.ports.compact(100)
	for i := range 4 * maxKept {
		big.ports.add(uint32(i), 1<<20)
	}
	big.ports.compact(1 << 20)
	small.flows, small.aux = 3, &runAux{}
	small.svcKey[0], small.svcPend[0] = mkPortKey(17, 53), 2
	p.keepRun(small)
	p.keepRun(big)
	for _, r := range []*run{p.run(), p.run()} {
		if len(r.ports.keys)+len(r.ports.log)+len(r.ports.counts)+len(r.dsts.v4.keys)+len(r.dsts.v4.log) != 0 {
			t.Fatalf("a spare run holds keys: %+v", r)
		}
		z := *r
		z.ports, z.dsts = keyCounts{}, addrCounts{}
		if !reflect.DeepEqual(z, run{}) {
			t.Fatalf("a spare run is not empty: %+v", z)
		}
	}
	if cap(small.ports.keys) == 0 || cap(small.dsts.v4.log) == 0 {
		t.Errorf("the small run's storage was let go")
	}
	if cap(big.ports.keys) != 0 {
		t.Errorf("the big run's table (%d) was kept", cap(big.ports.keys))
	}
	if p.reused != 2 {
		t.Errorf("reused %d, want 2", p.reused)
	}
}

// The lists keep at most what the last interval took, and at least
// minSpares.
func TestSpareLimit(t *testing.T) {
	var p spares
	for range 3 * minSpares {
		p.keepRun(&run{})
		p.keepSource(&source{})
	}
	if len(p.runs) != minSpares || len(p.srcs) != minSpares {
		t.Fatalf("kept %d runs and %d sources before any interval, want %d", len(p.runs), len(p.srcs), minSpares)
	}
	for range 2*minSpares + 5 {
		p.source()
	}
	p.setLimit()
	for range 3 * minSpares {
		p.keepSource(&source{})
	}
	if want := 2*minSpares + 5; p.limit != want || len(p.srcs) != want {
		t.Fatalf("limit %d, %d sources kept; want %d", p.limit, len(p.srcs), want)
	}
	p.setLimit() // an interval with no new source: back to the floor
	if len(p.srcs) != minSpares || len(p.runs) != minSpares {
		t.Fatalf("after a quiet interval %d sources and %d runs kept, want %d", len(p.srcs), len(p.runs), minSpares)
	}
}
