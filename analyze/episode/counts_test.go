package episode

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
)

// refCounts is the obvious set with a cap: the first limit distinct keys in
// arrival order are counted, later new keys are dropped.
func refCounts(keys []uint32, limit int) (map[uint32]uint64, bool) {
	m := map[uint32]uint64{}
	trunc := false
	for _, k := range keys {
		if _, ok := m[k]; ok || len(m) < limit {
			m[k]++
		} else {
			trunc = true
		}
	}
	return m, trunc
}

func TestKeyCountsEqualsASetWithACap(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct{ n, space, limit int }{
		{0, 10, 5}, {1, 10, 5}, {50, 10, 100}, {5000, 300, 1 << 20},
		{5000, 300, 200}, {100000, 70000, 65536}, {20000, 1000, 1},
		{200000, 60000, 65536}, {200000, 65536, 65536}, {3000, 999, 1000}, // near the cap, new keys fitting or just not
	} {
		keys := make([]uint32, tc.n)
		for i := range keys {
			keys[i] = uint32(rng.IntN(tc.space)) * 2654435761 // spread over the key space
		}
		var c keyCounts
		for _, k := range keys {
			c.add(k, tc.limit)
		}
		want, trunc := refCounts(keys, tc.limit)
		c.compact(tc.limit)
		if got := len(c.keys); got != len(want) {
			t.Fatalf("%+v: distinct = %d, want %d", tc, got, len(want))
		}
		prev := -1
		c.each(func(k uint32, n uint64) {
			if int(k) <= prev {
				t.Fatalf("%+v: keys not ascending at %d", tc, k)
			}
			prev = int(k)
			if want[k] != n {
				t.Fatalf("%+v: count[%d] = %d, want %d", tc, k, n, want[k])
			}
		})
		if c.truncated() != trunc {
			t.Errorf("%+v: truncated = %v, want %v", tc, c.truncated(), trunc)
		}
	}
}

// TestKeyCountsHighCounts checks the counts past a low part's range: keys
// hit thousands of times among keys hit once (the week's shape: a client's
// resolver and web ports among its one-off targets), the carries of one
// merge that crosses the low part's range many times, near the cap
// (compactCapped counts one at a time), and counts past 32 bits added in one
// merge, which only the high part can hold.
func TestKeyCountsHighCounts(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, tc := range []struct{ n, limit int }{{400000, 1 << 20}, {400000, 900}, {400000, 3}} {
		hot := []uint32{53, 443, 80, 0xffffffff}
		keys := make([]uint32, tc.n)
		for i := range keys {
			switch r := rng.IntN(10); {
			case r < 6:
				keys[i] = hot[r%len(hot)]
			default:
				keys[i] = uint32(rng.IntN(1000)) * 2654435761
			}
		}
		var c keyCounts
		for _, k := range keys {
			c.add(k, tc.limit)
		}
		want, trunc := refCounts(keys, tc.limit)
		c.compact(tc.limit)
		if len(c.keys) != len(want) || c.truncated() != trunc {
			t.Fatalf("%+v: %d keys (truncated %v), want %d (%v)", tc, len(c.keys), c.truncated(), len(want), trunc)
		}
		if want[443] <= 1<<(2*countBits) {
			t.Fatalf("%+v: the hot key has %d flows: the test does not reach past two low parts", tc, want[443])
		}
		c.each(func(k uint32, n uint64) {
			if want[k] != n {
				t.Fatalf("%+v: count[%d] = %d, want %d", tc, k, n, want[k])
			}
		})
	}

	var c keyCounts
	c.add(7, 10)
	c.add(9, 10)
	c.compact(10)
	big := uint64(1)<<33 + 5
	c.merge([]uint32{7, 8}, []uint64{big, 1<<countBits - 1})
	c.merge([]uint32{8}, []uint64{1})
	got := map[uint32]uint64{}
	c.each(func(k uint32, n uint64) { got[k] = n })
	want := map[uint32]uint64{7: big + 1, 8: 1 << countBits, 9: 1}
	if len(got) != len(want) {
		t.Fatalf("counts %v, want %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("count[%d] = %d, want %d", k, got[k], n)
		}
	}
}

func TestAddrCountsCapCoversBothFamilies(t *testing.T) {
	var c addrCounts
	const limit = 3
	for _, s := range []string{"10.0.0.1", "2001:db8::1", "10.0.0.2", "10.0.0.1", "10.0.0.3", "2001:db8::2", "2001:db8::1"} {
		c.inc(netip.MustParseAddr(s), limit)
	}
	c.finish(limit)
	got := map[string]uint64{}
	for a, n := range c.all() {
		got[a.String()] = n
	}
	want := map[string]uint64{"10.0.0.1": 2, "10.0.0.2": 1, "2001:db8::1": 2}
	if len(got) != len(want) || c.len() != len(want) || !c.truncated() {
		t.Fatalf("got %v (len %d, truncated %v), want %v truncated", got, c.len(), c.truncated(), want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: %d flows, want %d", k, got[k], n)
		}
	}
}

// TestSortKeys checks the radix sort against slices.Sort on logs of every
// shape it meets: short (comparison sort), keys varying in one, two, three
// or all four bytes (so an odd or even number of passes runs), repeats.
func TestSortKeys(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	masks := []uint32{0xff, 0xff00, 0xffff, 0xff00ff, 0xffffff, 0xffffffff, 0x0f0000ff}
	for _, n := range []int{0, 1, 100, radixMin - 1, radixMin, 3000, 70000} {
		for _, m := range masks {
			a := make([]uint32, n)
			for i := range a {
				a[i] = 0x0a000000 | rng.Uint32()&m
				if i > 0 && rng.IntN(4) == 0 {
					a[i] = a[rng.IntN(i)]
				}
			}
			want := slices.Clone(a)
			slices.Sort(want)
			sortKeys(a)
			if !slices.Equal(a, want) {
				t.Fatalf("n=%d mask=%#x: radix sort differs from slices.Sort", n, m)
			}
		}
	}
}
