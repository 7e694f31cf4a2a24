package trw

import (
	"net/netip"

	"github.com/flowsift/flowsift/flow"
)

// evidence is a source's first targets, the evidence of a finding:
// plain IPv4 addresses in 4 bytes each, the rest as netip.Addr. Most of
// a day's sources are background radiation, three probes each; their
// three addresses took 96 bytes (and pointers for the collector to scan)
// where they now take 16. The finding sorts them, so the two lists need
// no common order.
type evidence struct {
	v4    []uint32
	other []netip.Addr
}

// maxEvidence is how many targets a source keeps.
const maxEvidence = 64

func (e *evidence) len() int { return len(e.v4) + len(e.other) }

// held says whether the source keeps evidence (an undecided source that
// made a contact; a decided one has handed its evidence to its finding).
func (e *evidence) held() bool { return e.v4 != nil || e.other != nil }

// add keeps a while there is room.
func (e *evidence) add(a netip.Addr) {
	switch {
	case e.len() >= maxEvidence:
	case a.Is4():
		if e.v4 == nil {
			// Room for a background source's three probes at once.
			e.v4 = make([]uint32, 0, 4)
		}
		e.v4 = append(e.v4, flow.AddrU32(a))
	default:
		e.other = append(e.other, a)
	}
}

// addrs returns the targets, sorted.
func (e *evidence) addrs() []netip.Addr {
	out := make([]netip.Addr, 0, e.len())
	for _, x := range e.v4 {
		out = append(out, flow.AddrFromU32(x))
	}
	out = append(out, e.other...)
	sortAddrs(out)
	return out
}
