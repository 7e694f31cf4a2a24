package heuristics

import (
	"encoding/binary"
	"net/netip"
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

// octets pre-filters IPv4 prefix lists by first octet, so the common case
// (an address in none of the lists) costs one table lookup. IPv6 addresses
// always go to the list.
type octets struct {
	v4  [256]bool
	any bool // the list has prefixes at all
}

func octetsOf(ps []netip.Prefix) (o octets) {
	for _, p := range ps {
		o.any = true
		if !p.Addr().Is4() {
			continue
		}
		first := p.Masked().Addr().As4()[0]
		n := 1
		if p.Bits() < 8 {
			n = 1 << (8 - p.Bits())
		}
		for i := 0; i < n; i++ {
			o.v4[int(first)+i] = true
		}
	}
	return o
}

func (o *octets) may(a netip.Addr) bool {
	if !o.any {
		return false
	}
	if a.Is4() {
		return o.v4[a.As4()[0]]
	}
	return true
}
