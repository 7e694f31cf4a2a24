package u64map

import (
	"math/rand/v2"
	"testing"
	"unsafe"
)

// A group is one cache line: seven keys, their bytes and one spare.
func TestBytesGroupIsALine(t *testing.T) {
	if s := unsafe.Sizeof(group[uint8]{}); s != 64 {
		t.Fatalf("group is %d bytes, want 64", s)
	}
}

// Bytes agrees with a Go map under any mix of upserts, lookups and
// single deletes, through growth, with key 0, in a crowded table (runs
// that cross groups and wrap past the last one) and a sparse one.
func TestBytesMatchesGoMap(t *testing.T) {
	for _, spread := range []uint64{16, 64, 5000, 1 << 40} {
		r := rand.New(rand.NewPCG(5, spread))
		var m Bytes[uint8]
		ref := map[uint64]uint8{}
		for op := 0; op < 300000; op++ {
			k := r.Uint64N(spread)
			if spread == 1<<40 {
				k <<= 24 // only high bits vary
			}
			switch r.IntN(3) {
			case 0:
				v, added := m.Upsert(k)
				if _, had := ref[k]; added == had {
					t.Fatalf("spread %d op %d: Upsert(%d) added=%v, reference had=%v", spread, op, k, added, had)
				}
				*v++
				ref[k]++
			case 1:
				_, had := ref[k]
				if got := m.Delete(k); got != had {
					t.Fatalf("spread %d op %d: Delete(%d) = %v, reference had %v", spread, op, k, got, had)
				}
				delete(ref, k)
			default:
				v, ok := m.Get(k)
				want, had := ref[k]
				if ok != had || (ok && *v != want) {
					t.Fatalf("spread %d op %d: Get(%d) = %v,%v want %d,%v", spread, op, k, v, ok, want, had)
				}
			}
			if op%1000 == 0 {
				for k, want := range ref {
					if v, ok := m.Get(k); !ok || *v != want {
						t.Fatalf("spread %d op %d: key %d lost after deletes", spread, op, k)
					}
				}
			}
		}
		if m.Len() != len(ref) {
			t.Fatalf("spread %d: Len %d want %d", spread, m.Len(), len(ref))
		}
		if load := float64(m.n) / float64(m.positions()); load > 3.0/4 {
			t.Fatalf("spread %d: load %.2f, want at most 3/4", spread, load)
		}
	}
}

// DeleteFunc shows del every key once, removes what it accepts, keeps the
// size of a table it leaves more than 3/16 full and rebuilds one it
// leaves emptier.
func TestBytesDeleteFuncMatchesGoMap(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 9))
	var m Bytes[uint8]
	ref := map[uint64]uint8{}
	for round := range 20 {
		for range 5000 + r.IntN(20000) {
			k := r.Uint64N(1 << 18)
			v, _ := m.Upsert(k)
			*v = uint8(round)
			ref[k] = uint8(round)
		}
		cut := uint8(r.IntN(round + 1))
		asked := map[uint64]int{}
		groups := m.Groups()
		n := m.DeleteFunc(func(k uint64, v *uint8) bool {
			asked[k]++
			return *v < cut || k%97 == 0
		})
		for k := range ref {
			if asked[k] != 1 {
				t.Fatalf("round %d: del saw key %d %d times, want once", round, k, asked[k])
			}
		}
		if len(asked) != len(ref) {
			t.Fatalf("round %d: del saw %d keys, the table had %d", round, len(asked), len(ref))
		}
		want := 0
		for k, v := range ref {
			if v < cut || k%97 == 0 {
				delete(ref, k)
				want++
			}
		}
		if n != want || m.Len() != len(ref) {
			t.Fatalf("round %d: removed %d (want %d), %d keys (want %d)", round, n, want, m.Len(), len(ref))
		}
		kept := uint64(m.n)*16 > uint64(groups)*groupKeys*3
		if want := map[bool]int{true: groups, false: m.fit(2 * m.n)}[kept]; m.Groups() != want {
			t.Fatalf("round %d: %d groups became %d with %d keys left", round, groups, m.Groups(), m.n)
		}
		for k, v := range ref {
			if got, ok := m.Get(k); !ok || *got != v {
				t.Fatalf("round %d: key %d lost or wrong after DeleteFunc", round, k)
			}
		}
	}
	m.DeleteFunc(func(uint64, *uint8) bool { return true })
	if m.Len() != 0 || m.Groups() != minGroups {
		t.Fatalf("all removed: %d keys, %d groups", m.Len(), m.Groups())
	}
}

// Key 0, which marks an empty position, is held beside the groups.
func TestBytesZeroKey(t *testing.T) {
	var m Bytes[uint8]
	if _, ok := m.Get(0); ok {
		t.Fatal("empty table has key 0")
	}
	m.Prefetch(0) // no groups yet: a hint, never a fault
	v, added := m.Upsert(0)
	*v = 9
	if !added || m.Len() != 1 {
		t.Fatalf("Upsert(0): added %v, Len %d", added, m.Len())
	}
	if got, ok := m.Get(0); !ok || *got != 9 {
		t.Fatalf("Get(0) = %v, %v", got, ok)
	}
	if n := m.DeleteFunc(func(k uint64, v *uint8) bool { return k == 0 && *v == 9 }); n != 1 || m.Len() != 0 {
		t.Fatalf("DeleteFunc of key 0 removed %d, Len %d", n, m.Len())
	}
	m.Upsert(0)
	if !m.Delete(0) || m.Delete(0) || m.Len() != 0 {
		t.Fatal("Delete(0) twice")
	}
}
