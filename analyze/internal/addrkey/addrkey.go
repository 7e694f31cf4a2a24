// Package addrkey holds the pointer-free address keys the detectors use
// for their large maps: a netip.Addr holds a zone pointer, which makes it
// several times slower to hash than plain integers and makes the garbage
// collector scan every map bucket.
package addrkey

import (
	"encoding/binary"
	"iter"
	"net/netip"

	"github.com/flowsift/flowsift/analyze/internal/u64map"
	"github.com/flowsift/flowsift/flow"
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

// AddrMap is a map keyed by an address: IPv4 addresses (the bulk of real
// traffic) live in an open-addressing table of their own (u64map: one
// cache miss a lookup, and a slot a caller can prefetch), where a 16-byte
// key goes through the generic hash. Keys compare as netip.Addr does:
// 10.0.0.1 and ::ffff:10.0.0.1 are different keys.
type AddrMap[V any] struct {
	v4 *u64map.Map[V]
	v6 map[Addr]V
}

// NewAddrMap returns an empty map.
func NewAddrMap[V any]() AddrMap[V] { return AddrMap[V]{v4: &u64map.Map[V]{}, v6: map[Addr]V{}} }

// Get returns the value stored for a.
func (m *AddrMap[V]) Get(a netip.Addr) (V, bool) {
	if a.Is4() {
		if v, ok := m.v4.Get(uint64(flow.AddrU32(a))); ok {
			return *v, true
		}
		var zero V
		return zero, false
	}
	v, ok := m.v6[Of(a)]
	return v, ok
}

// Set stores v for a.
func (m *AddrMap[V]) Set(a netip.Addr, v V) {
	if a.Is4() {
		p, _ := m.v4.Upsert(uint64(flow.AddrU32(a)))
		*p = v
		return
	}
	m.v6[Of(a)] = v
}

// Len is the number of addresses held.
func (m *AddrMap[V]) Len() int { return m.v4.Len() + len(m.v6) }

// Prefetch asks for the slot of a, if it is IPv4 (see u64map.Prefetch).
func (m *AddrMap[V]) Prefetch(a netip.Addr) {
	if a.Is4() {
		m.v4.Prefetch(uint64(flow.AddrU32(a)))
	}
}

// Clear empties the map, keeping its storage.
func (m *AddrMap[V]) Clear() {
	m.v4.Clear()
	clear(m.v6)
}

// DeleteFunc removes every entry whose value del accepts.
func (m *AddrMap[V]) DeleteFunc(del func(V) bool) {
	m.v4.DeleteFunc(func(_ uint64, v *V) bool { return del(*v) })
	for k, v := range m.v6 {
		if del(v) {
			delete(m.v6, k)
		}
	}
}

// DeleteFuncAddr removes every entry del accepts, and shows it the
// address too: a caller that moves what it removes elsewhere does it in
// one pass.
func (m *AddrMap[V]) DeleteFuncAddr(del func(netip.Addr, V) bool) {
	m.v4.DeleteFunc(func(k uint64, v *V) bool { return del(addr4(k), *v) })
	for k, v := range m.v6 {
		if del(addr16(k), v) {
			delete(m.v6, k)
		}
	}
}

func addr4(k uint64) netip.Addr { return flow.AddrFromU32(uint32(k)) }

func addr16(k Addr) netip.Addr {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], k[0])
	binary.BigEndian.PutUint64(b[8:], k[1])
	return netip.AddrFrom16(b)
}

// All yields every address and its value, in no particular order. The
// loop body must not add to the map.
func (m *AddrMap[V]) All() iter.Seq2[netip.Addr, V] {
	return func(yield func(netip.Addr, V) bool) {
		for k, v := range m.v4.All() {
			if !yield(addr4(k), *v) {
				return
			}
		}
		for k, v := range m.v6 {
			if !yield(addr16(k), v) {
				return
			}
		}
	}
}
