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
