package heuristics

import (
	"net/netip"

	"github.com/flowsift/flowsift/analyze/internal/addrkey"
	"github.com/flowsift/flowsift/analyze/internal/u64map"
	"github.com/flowsift/flowsift/flow"
)

// Pointer-free map keys, shared with the other detectors (see addrkey).
type akey = addrkey.Addr
type pkey = addrkey.Pair
type addrMap[V any] = addrkey.AddrMap[V]

func addrKey(a netip.Addr) akey     { return addrkey.Of(a) }
func pairKey(a, b akey) pkey        { return addrkey.PairOf(a, b) }
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

// pairSet holds unordered address pairs: IPv4 pairs packed lower address
// first into one uint64 (added in one table operation), the rest in a map.
type pairSet struct {
	v4 u64map.Map[struct{}]
	v6 map[pkey]struct{}
}

func newPairSet() pairSet { return pairSet{v6: map[pkey]struct{}{}} }

// add adds {a, b} and says whether it was new.
func (s *pairSet) add(a, b netip.Addr) bool {
	if a.Is4() && b.Is4() {
		x, y := uint64(flow.AddrU32(a)), uint64(flow.AddrU32(b))
		if y < x {
			x, y = y, x
		}
		_, added := s.v4.Upsert(x<<32 | y)
		return added
	}
	if b.Less(a) {
		a, b = b, a
	}
	k := pairKey(addrKey(a), addrKey(b))
	if _, ok := s.v6[k]; ok {
		return false
	}
	s.v6[k] = struct{}{}
	return true
}

func (s *pairSet) clear() {
	s.v4.Clear()
	clear(s.v6)
}
