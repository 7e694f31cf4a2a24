package u64map

import (
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
// single deletes, through growth, in a crowded table (runs that cross
// groups and wrap past the last one) and a sparse one, at most three
// quarters full.
func TestBytesMatchesGoMap(t *testing.T) {
	for _, spread := range []uint64{16, 64, 5000, 1 << 40} {
		var m Bytes[uint8]
		opsMatchGoMap(t, 5, spread, &m)
		if load := float64(m.n) / float64(m.positions()); load > 3.0/4 {
			t.Fatalf("spread %d: load %.2f, want at most 3/4", spread, load)
		}
	}
}

// DeleteFunc shows del every key once, removes what it accepts, keeps the
// size of a table it leaves more than 3/16 full and rebuilds one it
// leaves emptier.
func TestBytesDeleteFuncMatchesGoMap(t *testing.T) {
	var m Bytes[uint8]
	groups := 0
	deleteFuncRoundsMatchGoMap(t, &m,
		func(del func(uint64, *uint8) bool) int {
			groups = m.Groups()
			return m.DeleteFunc(del)
		},
		func(round int, _ map[uint64]uint8) {
			kept := uint64(m.n)*16 > uint64(groups)*groupKeys*3
			if want := map[bool]int{true: groups, false: m.fit(2 * m.n)}[kept]; m.Groups() != want {
				t.Fatalf("round %d: %d groups became %d with %d keys left", round, groups, m.Groups(), m.n)
			}
		})
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
