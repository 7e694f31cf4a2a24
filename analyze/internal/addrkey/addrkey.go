// Package addrkey holds the pointer-free address keys the detectors use
// for their large maps: a netip.Addr holds a zone pointer, which makes it
// several times slower to hash than plain integers and makes the garbage
// collector scan every map bucket.
package addrkey

import (
	"encoding/binary"
	"net/netip"
)

// Addr is an address in its 16-byte form.
type Addr [2]uint64

// Pair is an ordered pair of addresses.
type Pair [4]uint64

// Of returns a's key.
func Of(a netip.Addr) Addr {
	b := a.As16()
	return Addr{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// PairOf returns the key of the ordered pair (a, b).
func PairOf(a, b Addr) Pair { return Pair{a[0], a[1], b[0], b[1]} }

// PairMap is a map keyed by an ordered address pair: IPv4 pairs (the bulk
// of real traffic) take the runtime's fast 64-bit key path.
type PairMap[V any] struct {
	v4 map[uint64]V
	v6 map[Pair]V
}

// NewPairMap returns an empty map.
func NewPairMap[V any]() PairMap[V] { return PairMap[V]{v4: map[uint64]V{}, v6: map[Pair]V{}} }

func key4(a, b netip.Addr) (uint64, bool) {
	if a.Is4() && b.Is4() {
		x, y := a.As4(), b.As4()
		return uint64(binary.BigEndian.Uint32(x[:]))<<32 | uint64(binary.BigEndian.Uint32(y[:])), true
	}
	return 0, false
}

// Get returns the value stored for (a, b).
func (m *PairMap[V]) Get(a, b netip.Addr) (V, bool) {
	if k, ok := key4(a, b); ok {
		v, ok := m.v4[k]
		return v, ok
	}
	v, ok := m.v6[PairOf(Of(a), Of(b))]
	return v, ok
}

// Set stores v for (a, b).
func (m *PairMap[V]) Set(a, b netip.Addr, v V) {
	if k, ok := key4(a, b); ok {
		m.v4[k] = v
		return
	}
	m.v6[PairOf(Of(a), Of(b))] = v
}

// Put stores v for (a, b) and reports whether the pair was new: one map
// operation where Get then Set take two.
func (m *PairMap[V]) Put(a, b netip.Addr, v V) (added bool) {
	if k, ok := key4(a, b); ok {
		n := len(m.v4)
		m.v4[k] = v
		return len(m.v4) > n
	}
	k := PairOf(Of(a), Of(b))
	n := len(m.v6)
	m.v6[k] = v
	return len(m.v6) > n
}

// Clear empties the map, keeping its storage.
func (m *PairMap[V]) Clear() {
	clear(m.v4)
	clear(m.v6)
}

// AddrMap is a map keyed by an address: IPv4 addresses (the bulk of real
// traffic) take the runtime's fast 32-bit key path, where a 16-byte key
// goes through the generic hash. Keys compare as netip.Addr does: 10.0.0.1
// and ::ffff:10.0.0.1 are different keys.
type AddrMap[V any] struct {
	v4 map[uint32]V
	v6 map[Addr]V
}

// NewAddrMap returns an empty map.
func NewAddrMap[V any]() AddrMap[V] { return AddrMap[V]{v4: map[uint32]V{}, v6: map[Addr]V{}} }

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

// Get returns the value stored for a.
func (m *AddrMap[V]) Get(a netip.Addr) (V, bool) {
	if a.Is4() {
		v, ok := m.v4[u32(a)]
		return v, ok
	}
	v, ok := m.v6[Of(a)]
	return v, ok
}

// Set stores v for a.
func (m *AddrMap[V]) Set(a netip.Addr, v V) {
	if a.Is4() {
		m.v4[u32(a)] = v
		return
	}
	m.v6[Of(a)] = v
}

// Len is the number of addresses held.
func (m *AddrMap[V]) Len() int { return len(m.v4) + len(m.v6) }

// Clear empties the map, keeping its storage.
func (m *AddrMap[V]) Clear() {
	clear(m.v4)
	clear(m.v6)
}

// DeleteFunc removes every entry whose value del accepts.
func (m *AddrMap[V]) DeleteFunc(del func(V) bool) {
	for k, v := range m.v4 {
		if del(v) {
			delete(m.v4, k)
		}
	}
	for k, v := range m.v6 {
		if del(v) {
			delete(m.v6, k)
		}
	}
}
