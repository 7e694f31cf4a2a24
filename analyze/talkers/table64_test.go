package talkers

import (
	"math/rand/v2"
	"net/netip"
	"reflect"
	"testing"
	"unsafe"

	"github.com/flowsift/flowsift/analyze/internal/u64map"
	"github.com/flowsift/flowsift/flow"
)

// TestTable64AgainstMap counts random keys, clustered like packed
// addresses and pairs, into a table64 and a Go map: every key, count and
// the number of keys must agree once the parts have grown many times.
func TestTable64AgainstMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var tb table64
	want := map[uint64]Counts{}
	for i := 0; i < 300_000; i++ {
		var k uint64
		switch rng.IntN(3) {
		case 0: // a few hot keys, key 0 among them
			k = uint64(rng.IntN(8))
		case 1: // a /16 of destinations
			k = 0x0a000000 | uint64(rng.IntN(1<<16))
		default: // pairs
			k = uint64(0xc0a80000|rng.IntN(512))<<32 | uint64(0x0a000000|rng.IntN(1<<12))
		}
		countBoth(&tb, want, k, rng)
	}
	got := map[uint64]Counts{}
	tb.each(func(k uint64, n Counts) {
		if _, dup := got[k]; dup {
			t.Fatalf("key %#x listed twice", k)
		}
		got[k] = n
	})
	if tb.n != len(want) || !reflect.DeepEqual(got, want) {
		t.Fatalf("table64 holds %d keys (n=%d), want %d; equal=%v", len(got), tb.n, len(want), reflect.DeepEqual(got, want))
	}
}

// TestTablesMixedFamilies: IPv4 flows go to the packed tables, the others
// to the maps; Tables must list both, counted exactly, whichever way the
// flows come in.
func TestTablesMixedFamilies(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	v6 := netip.MustParseAddr("2001:db8::1")
	var b flow.Batch
	for i := 0; i < 1000; i++ {
		r := flow.Record{Src: flow.AddrFromU32(0x0a000000 | uint32(rng.IntN(300))), Dst: flow.AddrFromU32(0xc0a80000 | uint32(rng.IntN(300))),
			SrcPort: uint16(rng.IntN(70000)), DstPort: uint16(rng.IntN(1024)), Proto: uint8(rng.IntN(3)) * 6,
			Packets: uint64(1 + rng.IntN(9)), Octets: uint64(40 + rng.IntN(1500)), Flows: uint32(rng.IntN(2))}
		switch i % 7 {
		case 3:
			r.Src = v6
		case 5:
			r.Dst = v6
		}
		b = append(b, r)
	}
	batch, single := New(Config{N: -1}), New(Config{N: -1})
	batch.Add(b[:500])
	batch.Tables() // sums the ends; the flows after must reach them too
	batch.Add(b[500:])
	for i := range b {
		single.AddRecord(&b[i])
	}
	if !reflect.DeepEqual(batch.Tables(), single.Tables()) || batch.Totals() != single.Totals() {
		t.Fatal("Add and AddRecord disagree")
	}
	// Against a plain map of every pair.
	want := map[[2]netip.Addr]Counts{}
	for i := range b {
		k := [2]netip.Addr{b[i].Src, b[i].Dst}
		w := want[k]
		w.add(&b[i], max(uint64(b[i].Flows), 1))
		want[k] = w
	}
	for _, k := range []Key{SrcIP, DstIP} {
		want := map[netip.Addr]Counts{}
		for i := range b {
			a := b[i].Src
			if k == DstIP {
				a = b[i].Dst
			}
			w := want[a]
			w.add(&b[i], max(uint64(b[i].Flows), 1))
			want[a] = w
		}
		tb, _ := batch.Top(k, ByFlows)
		if tb.Distinct != len(want) || len(tb.Rows) != len(want) {
			t.Fatalf("%v: %d distinct, %d rows, want %d", k, tb.Distinct, len(tb.Rows), len(want))
		}
		for _, r := range tb.Rows {
			if want[r.Addr] != r.Counts {
				t.Errorf("%v %v = %+v, want %+v", k, r.Addr, r.Counts, want[r.Addr])
			}
		}
	}
	pairs, _ := batch.Top(Pair, ByBytes)
	if pairs.Distinct != len(want) || len(pairs.Rows) != len(want) {
		t.Fatalf("pairs: %d distinct, %d rows, want %d", pairs.Distinct, len(pairs.Rows), len(want))
	}
	for _, r := range pairs.Rows {
		if want[[2]netip.Addr{r.Addr, r.Dst}] != r.Counts {
			t.Errorf("pair %v -> %v = %+v, want %+v", r.Addr, r.Dst, r.Counts, want[[2]netip.Addr{r.Addr, r.Dst}])
		}
	}
}

// TestTable64SameTopBits: keys whose hashes share more top bits than the
// directory may use (crafted; real keys do not) fill one page past its
// size: it grows instead of splitting, the directory stays bounded, and
// every key is still counted once.
func TestTable64SameTopBits(t *testing.T) {
	var tb table64
	const n = 3 * pageSlots
	for round := 0; round < 2; round++ {
		for i := uint64(0); i < n; i++ {
			h := 0xabcde<<44 | i*0x9e3779b9&(1<<44-1)
			k := u64map.Unhash(h)
			if mix(k) != h {
				t.Fatalf("Unhash(%#x) does not invert mix", h)
			}
			tb.add(k, h, Counts{Flows: 1, Packets: 1, Bytes: 100})
		}
	}
	if tb.n != n || len(tb.dir) > 1<<maxDepth {
		t.Fatalf("n = %d, directory %d entries", tb.n, len(tb.dir))
	}
	grown := false
	for _, p := range tb.pages {
		grown = grown || len(p) > pageSlots
	}
	if !grown {
		t.Fatal("no page grew: the test no longer reaches maxDepth")
	}
	seen := 0
	tb.each(func(_ uint64, c Counts) {
		seen++
		if c != (Counts{Flows: 2, Packets: 2, Bytes: 200}) {
			t.Fatalf("counts %+v", c)
		}
	})
	if seen != n {
		t.Fatalf("each saw %d keys, want %d", seen, n)
	}
}

// A table emptied into even pages (after a spill) counts as a fresh one:
// every key and count agree with a Go map through the pages' splits, the
// directory's doubling and a second reset that reuses fewer pages.
func TestTable64ResetEven(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var tb table64
	for k := uint64(1); k <= 50_000; k++ {
		tb.add(k, mix(k), Counts{Flows: 1, Packets: 1})
	}
	for _, n := range []int{64, 8} {
		tb.resetEven(n)
		if len(tb.pages) != n || tb.n != 0 || 1<<tb.depth != n {
			t.Fatalf("resetEven(%d): %d pages, %d keys, depth %d", n, len(tb.pages), tb.n, tb.depth)
		}
		want := map[uint64]Counts{}
		for range 100_000 {
			k := uint64(0xc0a80000|rng.IntN(1<<10))<<32 | uint64(0x0a000000|rng.IntN(1<<8))
			countBoth(&tb, want, k, rng)
		}
		got := map[uint64]Counts{}
		tb.each(func(k uint64, c Counts) { got[k] = c })
		if tb.n != len(want) || !reflect.DeepEqual(got, want) {
			t.Fatalf("after resetEven(%d): %d keys (n=%d), want %d; equal=%v", n, len(got), tb.n, len(want), reflect.DeepEqual(got, want))
		}
	}
}

// countBoth counts a flow of random size for key k into the table and
// into the reference map. One flow in a hundred is huge (a field's worth
// of packets or bytes, or an aggregate of thousands of flows), so the
// hot keys' words fill and carry into the side table again and again.
func countBoth(tb *table64, want map[uint64]Counts, k uint64, rng *rand.Rand) {
	c := Counts{Flows: 1, Packets: uint64(rng.IntN(10)), Bytes: uint64(rng.IntN(1500))}
	if rng.IntN(100) == 0 {
		switch rng.IntN(4) {
		case 0:
			c.Flows = uint64(rng.IntN(2 * flowMask))
		case 1:
			c.Packets = uint64(rng.IntN(2 * pktMask))
		case 2:
			c.Bytes = uint64(rng.IntN(2 * byteMask))
		default:
			c.Bytes = 1<<62 + uint64(rng.IntN(1000)) // past any field, as a bad record's might be
		}
	}
	tb.add(k, mix(k), c)
	w := want[k]
	w.sum(&c)
	want[k] = w
}

// TestTable64Carries: counters that fill their fields of a slot's word go
// on exactly in the side table, through page splits and a reset; a
// key that never fills has no side entry.
func TestTable64Carries(t *testing.T) {
	var tb table64
	const hot, cold = 7, 8
	for i := range 3 * pageSlots {
		tb.add(hot, mix(hot), Counts{Flows: 1, Packets: 700, Bytes: 1 << 20})
		k := uint64(100 + i) // split the pages under the hot key
		tb.add(k, mix(k), Counts{Flows: 1, Packets: 1, Bytes: 60})
	}
	tb.add(cold, mix(cold), Counts{Flows: 2, Packets: 3, Bytes: 4})
	n := uint64(3 * pageSlots)
	got := map[uint64]Counts{}
	tb.each(func(k uint64, c Counts) { got[k] = c })
	if want := (Counts{Flows: n, Packets: 700 * n, Bytes: n << 20}); got[hot] != want {
		t.Fatalf("hot key: %+v, want %+v", got[hot], want)
	}
	if got[cold] != (Counts{Flows: 2, Packets: 3, Bytes: 4}) || got[100] != (Counts{Flows: 1, Packets: 1, Bytes: 60}) {
		t.Fatalf("cold keys: %+v, %+v", got[cold], got[100])
	}
	if _, ok := tb.over.Get(cold); ok || tb.over.Len() != 1 {
		t.Fatalf("side table holds %d keys (cold key among them: %v), want the hot key only", tb.over.Len(), ok)
	}
	tb.reset()
	tb.add(hot, mix(hot), Counts{Flows: 1, Packets: 1, Bytes: 1})
	tb.each(func(k uint64, c Counts) {
		if k != hot || c != (Counts{Flows: 1, Packets: 1, Bytes: 1}) {
			t.Fatalf("after reset: key %d %+v", k, c)
		}
	})
}

// The memory figures count a slot as slotBytes.
func TestSlotBytes(t *testing.T) {
	if n := unsafe.Sizeof(slot64{}); n != slotBytes {
		t.Fatalf("slot64 is %d bytes, slotBytes says %d", n, slotBytes)
	}
}

// endSums, which adds each pair some pairs after it asked for the slots,
// sums what adding each pair at once sums, however many pairs (fewer than
// it holds, more, with counts past a slot's word).
func TestEndSumsMatchDirectAdds(t *testing.T) {
	for _, n := range []int{0, 1, endsAhead - 1, endsAhead, endsAhead + 1, 5000} {
		var want, got [2]table64
		sums := endSums{src: &got[0], dst: &got[1]}
		x := uint64(n)*7919 + 1
		for i := range n {
			x = x*6364136223846793005 + 1442695040888963407
			s, d := x>>40%300, x>>20%4000
			c := Counts{Flows: 1, Packets: x % 7, Bytes: x % 1500}
			if i%97 == 0 {
				c.Bytes = 1 << 40 // past the slot's word
			}
			want[0].add(s, mix(s), c)
			want[1].add(d, mix(d), c)
			sums.add(s, d, c)
		}
		sums.flush()
		for side := range want {
			w, g := map[uint64]Counts{}, map[uint64]Counts{}
			want[side].each(func(k uint64, c Counts) { w[k] = c })
			got[side].each(func(k uint64, c Counts) { g[k] = c })
			if !reflect.DeepEqual(w, g) {
				t.Fatalf("%d pairs, side %d: %d keys summed, want %d (or counts differ)", n, side, len(g), len(w))
			}
		}
	}
}
