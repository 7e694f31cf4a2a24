package trw

import (
	"encoding/binary"
	"net/netip"
	"slices"
)

// Map keys without pointers hash much faster than netip.Addr (which holds
// a zone pointer): an address is its 16-byte form, a pair two of them.
type akey [2]uint64
type pkey [4]uint64

func addrKey(a netip.Addr) akey {
	b := a.As16()
	return akey{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

func pairKey(a, b akey) pkey { return pkey{a[0], a[1], b[0], b[1]} }

func sortAddrs(a []netip.Addr) { slices.SortFunc(a, func(x, y netip.Addr) int { return x.Compare(y) }) }

// pairMap is a map keyed by an ordered address pair: IPv4 pairs (the bulk
// of real traffic) take the runtime's fast 64-bit key path.
type pairMap[V any] struct {
	v4 map[uint64]V
	v6 map[pkey]V
}

func newPairMap[V any]() pairMap[V] { return pairMap[V]{v4: map[uint64]V{}, v6: map[pkey]V{}} }

func key4(a, b netip.Addr) (uint64, bool) {
	if a.Is4() && b.Is4() {
		x, y := a.As4(), b.As4()
		return uint64(binary.BigEndian.Uint32(x[:]))<<32 | uint64(binary.BigEndian.Uint32(y[:])), true
	}
	return 0, false
}

func (m *pairMap[V]) get(a, b netip.Addr) (V, bool) {
	if k, ok := key4(a, b); ok {
		v, ok := m.v4[k]
		return v, ok
	}
	v, ok := m.v6[pairKey(addrKey(a), addrKey(b))]
	return v, ok
}

func (m *pairMap[V]) set(a, b netip.Addr, v V) {
	if k, ok := key4(a, b); ok {
		m.v4[k] = v
		return
	}
	m.v6[pairKey(addrKey(a), addrKey(b))] = v
}

func (m *pairMap[V]) clear() {
	clear(m.v4)
	clear(m.v6)
}
