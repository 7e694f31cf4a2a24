package episode

import (
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestPortSet checks the episode's port set against the obvious map: a
// port's flows summed over its protocols, the ports only findings name
// added with none, membership and the count of distinct ports; and a
// part's set, made from its list, reads back the same.
func TestPortSet(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	protos := []uint8{6, 17, 1, 58, 0, 132}
	for _, tc := range []struct{ flows, space, nprotos, extra int }{
		{0, 10, 1, 0}, {0, 10, 1, 3}, {50, 10, 1, 0}, {500, 300, 2, 5}, {5000, 2000, 6, 40}, {20000, 65536, 3, 100},
	} {
		var c keyCounts
		want := map[uint16]uint64{}
		for range tc.flows {
			p := uint16(rng.IntN(tc.space))
			c.add(uint32(mkPortKey(protos[rng.IntN(tc.nprotos)], p)), 1<<20)
			want[p]++
		}
		c.compact(1 << 20)
		var extra []uint16
		for range tc.extra {
			extra = append(extra, uint16(rng.IntN(tc.space+100)))
		}
		slices.Sort(extra)
		extra = slices.Compact(extra)
		for _, p := range extra {
			if _, ok := want[p]; !ok {
				want[p] = 0
			}
		}
		s := newPortSet(c, extra)
		var ports []uint16
		var flows []uint64
		got := map[uint16]uint64{}
		s.each(func(p uint16, n uint64) {
			ports, flows = append(ports, p), append(flows, n)
			got[p] = n
		})
		if !slices.IsSorted(ports) || len(ports) != len(got) {
			t.Fatalf("%+v: ports not ascending and distinct: %v", tc, ports)
		}
		if !maps.Equal(got, want) || s.len() != len(want) {
			t.Fatalf("%+v: set %v (len %d), want %v", tc, got, s.len(), want)
		}
		for p := range 1 << 16 {
			if _, ok := want[uint16(p)]; s.has(uint16(p)) != ok {
				t.Fatalf("%+v: has(%d) = %v, want %v", tc, p, !ok, ok)
			}
		}
		back := portSetOf(ports, flows)
		again := map[uint16]uint64{}
		back.each(func(p uint16, n uint64) { again[p] = n })
		if !maps.Equal(again, want) || back.len() != len(want) {
			t.Fatalf("%+v: part's set %v, want %v", tc, again, want)
		}
	}
}
