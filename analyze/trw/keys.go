package trw

import (
	"net/netip"
	"slices"

	"github.com/flowsift/flowsift/analyze/internal/addrkey"
)

type addrMap[V any] = addrkey.AddrMap[V]

func newAddrMap[V any]() addrMap[V] { return addrkey.NewAddrMap[V]() }
func sortAddrs(a []netip.Addr)      { slices.SortFunc(a, func(x, y netip.Addr) int { return x.Compare(y) }) }
