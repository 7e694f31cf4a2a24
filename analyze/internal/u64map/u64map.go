// Package u64map is a hash table keyed by uint64 with its values stored in
// the table itself (open addressing, linear probing).
//
// The detectors and counters look up a packed IPv4 address or pair for
// nearly every flow, in tables far larger than the CPU caches. A Go map of
// uint64 to an index into a value array costs two or three cache misses a
// lookup (control word, slot, value); here the key and its value share one
// slot, so a lookup usually costs one. Nothing in a table holds a pointer
// unless V does, so the garbage collector does not scan it.
//
// Keys leave one at a time (Delete: the dscan engine ages destinations out
// singly) or in bulk (DeleteFunc: the other detectors age their state out
// once per horizon).
package u64map

import (
	"iter"
	"unsafe"

	"github.com/flowsift/flowsift/analyze/internal/prefetch"
)

// maxLoadNum/maxLoadDen is the load at which the table doubles: linear
// probing stays short (about 2.5 slots for a hit) below three quarters.
const (
	maxLoadNum = 3
	maxLoadDen = 4
	minSlots   = 16
)

type slot[V any] struct {
	key uint64
	val V
}

// Map is the table. Key 0 marks an empty slot, so its value lives beside
// the slots. The zero Map is empty and ready to use. Pointers returned by
// Get and Upsert are valid until the next Upsert, Delete, DeleteFunc or
// Shrink.
type Map[V any] struct {
	slots   []slot[V]
	mask    uint64
	n       int // keys in slots (key 0 not counted)
	hasZero bool
	zero    V
}

func (m *Map[V]) init() {
	m.slots = make([]slot[V], minSlots)
	m.mask = minSlots - 1
	m.n = 0
}

// Hash is the 64-bit finaliser of MurmurHash3: packed addresses differ in
// few, low bits, and a table indexed by any part of the hash needs them
// spread over the whole word. It is a bijection (tests invert it).
func Hash(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	k *= 0xc4ceb9fe1a85ec53
	k ^= k >> 33
	return k
}

// Unhash inverts Hash: a table that keys a hash of more than 64 bits of
// identity (a host, a target and its port) keeps the part the key cannot
// tell apart beside it and recovers the rest from the key.
func Unhash(h uint64) uint64 {
	h ^= h >> 33
	h *= 0x9cb4b2f8129337db // the inverse of 0xc4ceb9fe1a85ec53 mod 2^64
	h ^= h >> 33
	h *= 0x4f74430c22a54005 // of 0xff51afd7ed558ccd
	h ^= h >> 33
	return h
}

// Len is the number of keys.
func (m *Map[V]) Len() int {
	if m.hasZero {
		return m.n + 1
	}
	return m.n
}

// Slots is the number of slots the table holds (of which Len are used):
// its memory is Slots times the size of a key and a value.
func (m *Map[V]) Slots() int { return len(m.slots) }

// Get returns k's value.
func (m *Map[V]) Get(k uint64) (*V, bool) {
	if k == 0 {
		return &m.zero, m.hasZero
	}
	if m.slots == nil {
		return nil, false
	}
	for i := Hash(k) & m.mask; ; i = (i + 1) & m.mask {
		s := &m.slots[i]
		if s.key == k {
			return &s.val, true
		}
		if s.key == 0 {
			return nil, false
		}
	}
}

// Upsert returns k's value, adding k with the zero value if it was absent
// (added says so).
func (m *Map[V]) Upsert(k uint64) (v *V, added bool) {
	if k == 0 {
		added = !m.hasZero
		m.hasZero = true
		return &m.zero, added
	}
	if m.slots == nil {
		m.init()
	}
	for i := Hash(k) & m.mask; ; i = (i + 1) & m.mask {
		s := &m.slots[i]
		if s.key == k {
			return &s.val, false
		}
		if s.key == 0 {
			if (m.n+1)*maxLoadDen > len(m.slots)*maxLoadNum {
				m.grow()
				return m.Upsert(k)
			}
			s.key = k
			m.n++
			return &s.val, true
		}
	}
}

func (m *Map[V]) grow() { m.rehash(2 * len(m.slots)) }

// rehash moves the keys into a fresh table of size slots (a power of two
// that holds them).
func (m *Map[V]) rehash(size int) {
	old := m.slots
	m.slots = make([]slot[V], size)
	m.mask = uint64(size - 1)
	for j := range old {
		if old[j].key == 0 {
			continue
		}
		i := Hash(old[j].key) & m.mask
		for m.slots[i].key != 0 {
			i = (i + 1) & m.mask
		}
		m.slots[i] = old[j]
	}
}

// Clear removes every key, keeping the storage.
func (m *Map[V]) Clear() {
	clear(m.slots)
	m.n = 0
	m.hasZero = false
	var zero V
	m.zero = zero
}

// All yields every key and its value, in an order that depends only on the
// keys added. The loop body must not add keys.
func (m *Map[V]) All() iter.Seq2[uint64, *V] {
	return func(yield func(uint64, *V) bool) {
		if m.hasZero && !yield(0, &m.zero) {
			return
		}
		for i := range m.slots {
			if s := &m.slots[i]; s.key != 0 && !yield(s.key, &s.val) {
				return
			}
		}
	}
}

// DeleteFunc removes every key whose value del accepts (del sees each key
// once) and returns how many it removed. The keys go in place, each by the
// backward shift of Delete, and the table keeps its size unless it is left
// at most 3/16 full: the detectors' aging sweeps drop a part of their
// table and grow back by as much before the next sweep, and rebuilding
// the table at the size its remaining keys need made every sweep cost a
// shrink and then a growth (0.22 of 4.6 CPU s for TRW on a report over
// three days of a million flows). A table that emptied that far is rebuilt
// with room to double; Shrink rebuilds it as small as its keys allow.
func (m *Map[V]) DeleteFunc(del func(k uint64, v *V) bool) int {
	held := m.n > 0
	removed := m.DeleteFuncKeep(del)
	if held && m.n*16 <= len(m.slots)*3 {
		m.rehash(m.fit(2 * m.n))
	}
	return removed
}

// DeleteFuncKeep is DeleteFunc keeping the table's size, for a table
// that fills up again at once: a host table pressed to make room for
// new hosts, rebuilt small and doubled back at each press, allocated
// 0.4 GB on a day of background radiation.
func (m *Map[V]) DeleteFuncKeep(del func(k uint64, v *V) bool) int {
	removed := m.deleteZero(del)
	if m.n == 0 {
		return removed
	}
	// Start after an empty slot: no probe run crosses it, so a key that a
	// shift moves lands at or after the slot being read, and is read once.
	start := uint64(0)
	for m.slots[start].key != 0 {
		start++
	}
	size := uint64(len(m.slots))
	for step := uint64(1); step <= size; step++ {
		i := (start + step) & m.mask
		for {
			s := &m.slots[i]
			if s.key == 0 || !del(s.key, &s.val) {
				break
			}
			// The hole at i takes the next key of the run, if any: read i
			// again.
			m.removeAt(i)
			removed++
		}
	}
	return removed
}

// deleteZero removes the key 0, held beside the slots, if del accepts it,
// and returns how many keys it removed.
func (m *Map[V]) deleteZero(del func(k uint64, v *V) bool) int {
	if !m.hasZero || !del(0, &m.zero) {
		return 0
	}
	m.hasZero = false
	var zero V
	m.zero = zero
	return 1
}

// DeleteFuncShrink is DeleteFunc then Shrink in one pass: the keys del
// rejects move into a table of the size they need, the others are not
// moved at all. When a large part of the table goes (TRW evicting its
// oldest half), deleting each in place by a backward shift cost more than
// the rebuild that followed.
func (m *Map[V]) DeleteFuncShrink(del func(k uint64, v *V) bool) int {
	removed := m.deleteZero(del)
	n := 0
	for i := range m.slots {
		// The table is rebuilt below: a key marked gone here breaks
		// probe runs no lookup will follow.
		if s := &m.slots[i]; s.key != 0 && del(s.key, &s.val) {
			*s = slot[V]{}
			n++
		}
	}
	if m.n -= n; m.slots != nil {
		m.rehash(m.fit(m.n))
	}
	return removed + n
}

// Shrink rebuilds the table at the smallest size that holds its keys at
// most three quarters full, to give memory back after a large DeleteFunc.
func (m *Map[V]) Shrink() {
	if m.slots == nil {
		return
	}
	if size := m.fit(m.n); size < len(m.slots) {
		m.rehash(size)
	}
}

// fit is the smallest table size that holds n keys at most three quarters
// full.
func (m *Map[V]) fit(n int) int {
	size := minSlots
	for n*maxLoadDen > size*maxLoadNum {
		size *= 2
	}
	return size
}

// Delete removes k and says whether it was there. The keys after it in its
// probe run move back into the hole (backward shift), so no tombstone
// lengthens later probes: the dscan engine ages destinations out one at a
// time, millions of them over a day.
func (m *Map[V]) Delete(k uint64) bool {
	var zero V
	if k == 0 {
		had := m.hasZero
		m.hasZero, m.zero = false, zero
		return had
	}
	if m.slots == nil {
		return false
	}
	i := Hash(k) & m.mask
	for m.slots[i].key != k {
		if m.slots[i].key == 0 {
			return false
		}
		i = (i + 1) & m.mask
	}
	m.removeAt(i)
	return true
}

// removeAt empties slot i (which holds a key): the keys after it in its
// probe run move back into the hole (backward shift), so no tombstone
// lengthens later probes.
func (m *Map[V]) removeAt(i uint64) {
	for j := (i + 1) & m.mask; m.slots[j].key != 0; j = (j + 1) & m.mask {
		// The key at j may fill the hole at i only if its home slot is not
		// in the cyclic range (i, j]: else a probe for it, starting at its
		// home, would stop at the hole before reaching it.
		if home := Hash(m.slots[j].key) & m.mask; (j-home)&m.mask >= (j-i)&m.mask {
			m.slots[i] = m.slots[j]
			i = j
		}
	}
	m.slots[i] = slot[V]{}
	m.n--
}

// Prefetch asks for the slot where a probe for k starts. A detector
// prefetches the slots of the flow a few places ahead of the one it
// handles, so that their cache misses overlap the work on the flows
// before, which otherwise waited for each miss in turn.
func (m *Map[V]) Prefetch(k uint64) {
	if len(m.slots) == 0 {
		return
	}
	prefetch.Line(unsafe.Pointer(&m.slots[Hash(k)&m.mask]))
}
