package u64map

import (
	"unsafe"

	"github.com/flowsift/flowsift/analyze/internal/prefetch"
)

// Bytes is a table of uint64 keys to one byte each (V), seven keys and their
// bytes to a 64-byte group. A Map[uint8] pads each slot to 16 bytes, seven
// of them padding: the host roles' pair table, one byte a pair of hosts,
// was 64 MB of the week's 480 MB heap. Here a key costs 64/7 bytes.
//
// It is linear probing over positions numbered group by group, a key's
// probe starting at the first position of its home group: a lookup reads
// one cache line unless its home group is full. Deletes shift back as
// Map's do, so no tombstone lengthens later probes.
type Bytes[V ~uint8] struct {
	groups  []group[V]
	mask    uint64 // groups - 1
	n       int    // keys in groups (key 0 not counted)
	hasZero bool
	zero    V
}

const groupKeys = 7

type group[V ~uint8] struct {
	keys [groupKeys]uint64
	vals [groupKeys]V
	_    uint8
}

const minGroups = 4

// Len is the number of keys.
func (m *Bytes[V]) Len() int {
	if m.hasZero {
		return m.n + 1
	}
	return m.n
}

// positions is the number of keys the groups have room for.
func (m *Bytes[V]) positions() uint64 { return uint64(len(m.groups)) * groupKeys }

// home is the first position of k's home group.
func (m *Bytes[V]) home(k uint64) uint64 { return (Hash(k) & m.mask) * groupKeys }

func (m *Bytes[V]) at(p uint64) (*uint64, *V) {
	g := &m.groups[p/groupKeys]
	return &g.keys[p%groupKeys], &g.vals[p%groupKeys]
}

// Get returns k's byte.
func (m *Bytes[V]) Get(k uint64) (*V, bool) {
	if k == 0 {
		return &m.zero, m.hasZero
	}
	if m.groups == nil {
		return nil, false
	}
	for g := Hash(k) & m.mask; ; g = (g + 1) & m.mask {
		grp := &m.groups[g]
		for j, key := range grp.keys {
			switch key {
			case k:
				return &grp.vals[j], true
			case 0:
				return nil, false
			}
		}
	}
}

// Upsert returns k's byte, adding k with 0 if it was absent (added says
// so). The pointer is valid until the next Upsert, Delete or DeleteFunc.
func (m *Bytes[V]) Upsert(k uint64) (v *V, added bool) {
	if k == 0 {
		added = !m.hasZero
		m.hasZero = true
		return &m.zero, added
	}
	if m.groups == nil {
		m.rehash(minGroups)
	}
	for g := Hash(k) & m.mask; ; g = (g + 1) & m.mask {
		grp := &m.groups[g]
		for j, key := range grp.keys {
			switch key {
			case k:
				return &grp.vals[j], false
			case 0:
				if uint64(m.n+1)*maxLoadDen > m.positions()*maxLoadNum {
					m.rehash(2 * len(m.groups))
					return m.Upsert(k)
				}
				grp.keys[j] = k
				m.n++
				return &grp.vals[j], true
			}
		}
	}
}

// rehash moves the keys into size groups (a power of two that holds them).
func (m *Bytes[V]) rehash(size int) {
	old := m.groups
	m.groups = make([]group[V], size)
	m.mask = uint64(size - 1)
	for i := range old {
		for j, k := range old[i].keys {
			if k != 0 {
				m.place(k, old[i].vals[j])
			}
		}
	}
}

// place puts k, absent, at the first free position of its probe.
func (m *Bytes[V]) place(k uint64, v V) {
	for g := Hash(k) & m.mask; ; g = (g + 1) & m.mask {
		grp := &m.groups[g]
		for j, key := range grp.keys {
			if key == 0 {
				grp.keys[j], grp.vals[j] = k, v
				return
			}
		}
	}
}

// next is the position after p, wrapping at the end.
func (m *Bytes[V]) next(p uint64) uint64 {
	if p++; p == m.positions() {
		return 0
	}
	return p
}

// dist is how many positions a probe from a walks to reach b.
func (m *Bytes[V]) dist(a, b uint64) uint64 {
	if b < a {
		return b + m.positions() - a
	}
	return b - a
}

// Delete removes k and says whether it was there.
func (m *Bytes[V]) Delete(k uint64) bool {
	if k == 0 {
		had := m.hasZero
		m.hasZero, m.zero = false, 0
		return had
	}
	if m.groups == nil {
		return false
	}
	for p := m.home(k); ; p = m.next(p) {
		switch key, _ := m.at(p); *key {
		case k:
			m.removeAt(p)
			return true
		case 0:
			return false
		}
	}
}

// removeAt empties position i (which holds a key), shifting back the keys
// after it in its probe run as Map.removeAt does.
func (m *Bytes[V]) removeAt(i uint64) {
	for j := m.next(i); ; j = m.next(j) {
		key, val := m.at(j)
		if *key == 0 {
			break
		}
		if m.dist(m.home(*key), j) >= m.dist(i, j) {
			ik, iv := m.at(i)
			*ik, *iv = *key, *val
			i = j
		}
	}
	ik, iv := m.at(i)
	*ik, *iv = 0, 0
	m.n--
}

// DeleteFunc removes every key whose byte del accepts (del sees each key
// once) and returns how many it removed. As Map.DeleteFunc, the table
// keeps its size unless it is left at most 3/16 full.
func (m *Bytes[V]) DeleteFunc(del func(k uint64, v *V) bool) int {
	removed := 0
	if m.hasZero && del(0, &m.zero) {
		m.hasZero, m.zero = false, 0
		removed++
	}
	if m.n == 0 {
		return removed
	}
	// Start after an empty position: no probe run crosses it, so a key a
	// shift moves lands at or after the position being read, and is read
	// once.
	size := m.positions()
	start := uint64(0)
	for key, _ := m.at(start); *key != 0; key, _ = m.at(start) {
		start++
	}
	for step, i := uint64(1), m.next(start); step <= size; step, i = step+1, m.next(i) {
		for {
			key, val := m.at(i)
			if *key == 0 || !del(*key, val) {
				break
			}
			m.removeAt(i)
			removed++
		}
	}
	if uint64(m.n)*16 <= size*3 {
		m.rehash(m.fit(2 * m.n))
	}
	return removed
}

// fit is the smallest number of groups that holds n keys at most three
// quarters full.
func (m *Bytes[V]) fit(n int) int {
	size := minGroups
	for uint64(n)*maxLoadDen > uint64(size)*groupKeys*maxLoadNum {
		size *= 2
	}
	return size
}

// Groups is the number of 64-byte groups the table holds.
func (m *Bytes[V]) Groups() int { return len(m.groups) }

// Prefetch asks for the group where a probe for k starts (see
// Map.Prefetch).
func (m *Bytes[V]) Prefetch(k uint64) {
	if len(m.groups) == 0 {
		return
	}
	prefetch.Line(unsafe.Pointer(&m.groups[Hash(k)&m.mask]))
}
