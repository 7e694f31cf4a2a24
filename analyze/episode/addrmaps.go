package episode

import (
	"iter"
	"net/netip"

	"github.com/flowsift/flowsift/flow"
)

// The accountant touches a source table and a per-run target set on every
// flow. Keyed by netip.Addr, those maps hash a 24-byte key holding a pointer;
// IPv4 addresses (the bulk of real traffic) packed into a uint32 take the
// runtime's fast 32-bit path instead, which halved the accounting time.

// sourceMap maps a source address to its state.
type sourceMap struct {
	v4 map[uint32]*source
	v6 map[netip.Addr]*source
}

func newSourceMap() sourceMap {
	return sourceMap{v4: make(map[uint32]*source), v6: make(map[netip.Addr]*source)}
}

func (m sourceMap) get(a netip.Addr) *source {
	if a.Is4() {
		return m.v4[flow.AddrU32(a)]
	}
	return m.v6[a]
}

func (m sourceMap) put(a netip.Addr, s *source) {
	if a.Is4() {
		m.v4[flow.AddrU32(a)] = s
	} else {
		m.v6[a] = s
	}
}

func (m sourceMap) delete(a netip.Addr) {
	if a.Is4() {
		delete(m.v4, flow.AddrU32(a))
	} else {
		delete(m.v6, a)
	}
}

func (m sourceMap) len() int { return len(m.v4) + len(m.v6) }

// all yields every source; the loop body may delete the one it is given.
func (m sourceMap) all() iter.Seq2[netip.Addr, *source] {
	return func(yield func(netip.Addr, *source) bool) {
		for k, s := range m.v4 {
			if !yield(flow.AddrFromU32(k), s) {
				return
			}
		}
		for a, s := range m.v6 {
			if !yield(a, s) {
				return
			}
		}
	}
}

// addrCounts counts flows per destination address.
type addrCounts struct {
	v4 map[uint32]uint64
	v6 map[netip.Addr]uint64
}

func (c *addrCounts) len() int { return len(c.v4) + len(c.v6) }

// inc counts one flow to a. A new address is taken only while fewer than
// limit are held; inc reports whether the flow was counted.
func (c *addrCounts) inc(a netip.Addr, limit int) bool {
	room := c.len() < limit
	if a.Is4() {
		if c.v4 == nil {
			c.v4 = make(map[uint32]uint64)
		}
		k := flow.AddrU32(a)
		if !room {
			if _, ok := c.v4[k]; !ok {
				return false
			}
		}
		c.v4[k]++
		return true
	}
	if c.v6 == nil {
		c.v6 = make(map[netip.Addr]uint64)
	}
	if !room {
		if _, ok := c.v6[a]; !ok {
			return false
		}
	}
	c.v6[a]++
	return true
}

func (c *addrCounts) all() iter.Seq2[netip.Addr, uint64] {
	return func(yield func(netip.Addr, uint64) bool) {
		for k, n := range c.v4 {
			if !yield(flow.AddrFromU32(k), n) {
				return
			}
		}
		for a, n := range c.v6 {
			if !yield(a, n) {
				return
			}
		}
	}
}
