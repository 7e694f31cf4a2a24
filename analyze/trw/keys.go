package trw

import (
	"net/netip"
	"slices"

	"github.com/flowsift/flowsift/analyze/internal/addrkey"
)

// Pointer-free map keys, shared with the other detectors (see addrkey).
type pairMap[V any] = addrkey.PairMap[V]
type addrMap[V any] = addrkey.AddrMap[V]

func newPairMap[V any]() pairMap[V] { return addrkey.NewPairMap[V]() }
func newAddrMap[V any]() addrMap[V] { return addrkey.NewAddrMap[V]() }
func sortAddrs(a []netip.Addr)      { slices.SortFunc(a, func(x, y netip.Addr) int { return x.Compare(y) }) }
