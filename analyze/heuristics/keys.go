package heuristics

import (
	"net/netip"

	"github.com/flowsift/flowsift/analyze/internal/addrkey"
)

// Pointer-free map keys, shared with the other detectors (see addrkey).
type akey = addrkey.Addr
type pkey = addrkey.Pair
type pairMap[V any] = addrkey.PairMap[V]
type addrMap[V any] = addrkey.AddrMap[V]

func addrKey(a netip.Addr) akey     { return addrkey.Of(a) }
func pairKey(a, b akey) pkey        { return addrkey.PairOf(a, b) }
func newPairMap[V any]() pairMap[V] { return addrkey.NewPairMap[V]() }
func newAddrMap[V any]() addrMap[V] { return addrkey.NewAddrMap[V]() }

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
