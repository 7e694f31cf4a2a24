package trw

import (
	"net/netip"
	"slices"

	"github.com/flowsift/flowsift/analyze/internal/addrkey"
)

// Pointer-free map keys, shared with the other detectors (see addrkey).
type akey = addrkey.Addr
type pkey = addrkey.Pair
type pairMap[V any] = addrkey.PairMap[V]

func addrKey(a netip.Addr) akey     { return addrkey.Of(a) }
func newPairMap[V any]() pairMap[V] { return addrkey.NewPairMap[V]() }
func sortAddrs(a []netip.Addr)      { slices.SortFunc(a, func(x, y netip.Addr) int { return x.Compare(y) }) }
