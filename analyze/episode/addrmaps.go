package episode

import (
	"iter"
	"net/netip"

	"github.com/flowsift/flowsift/analyze/internal/u64map"
	"github.com/flowsift/flowsift/flow"
)

// The accountant touches a source table and a per-run target set on every
// flow. Keyed by netip.Addr, those maps hash a 24-byte key holding a pointer;
// IPv4 addresses (the bulk of real traffic) packed into a uint32 take the
// runtime's fast 32-bit path instead, which halved the accounting time.

// sourceMap maps a source address to its state. Every flow looks up its
// source (and a UDP or ICMP flow its destination): the IPv4 sources are in
// an open-addressing table that keeps the pointer in the slot (u64map),
// one cache miss a lookup where a Go map took two.
type sourceMap struct {
	v4 *u64map.Map[*source]
	v6 map[netip.Addr]*source
}

func newSourceMap() sourceMap {
	return sourceMap{v4: &u64map.Map[*source]{}, v6: make(map[netip.Addr]*source)}
}

func (m sourceMap) get(a netip.Addr) *source {
	if a.Is4() {
		if s, ok := m.v4.Get(uint64(flow.AddrU32(a))); ok {
			return *s
		}
		return nil
	}
	return m.v6[a]
}

func (m sourceMap) put(a netip.Addr, s *source) {
	if a.Is4() {
		v, _ := m.v4.Upsert(uint64(flow.AddrU32(a)))
		*v = s
	} else {
		m.v6[a] = s
	}
}

func (m sourceMap) delete(a netip.Addr) {
	if a.Is4() {
		m.v4.Delete(uint64(flow.AddrU32(a)))
	} else {
		delete(m.v6, a)
	}
}

func (m sourceMap) len() int { return m.v4.Len() + len(m.v6) }

// all yields every source; the loop body must neither add nor delete
// sources (a delete moves other IPv4 sources within the table).
func (m sourceMap) all() iter.Seq2[netip.Addr, *source] {
	return func(yield func(netip.Addr, *source) bool) {
		for k, s := range m.v4.All() {
			if !yield(flow.AddrFromU32(uint32(k)), *s) {
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

// addrCounts counts flows per destination address: IPv4 in a keyCounts,
// the rest in a map. The cap on distinct addresses covers both, in
// arrival order.
type addrCounts struct {
	v4 keyCounts
	v6 map[netip.Addr]uint64
}

// inc counts one flow to a; limit caps the distinct addresses.
func (c *addrCounts) inc(a netip.Addr, limit int) {
	if a.Is4() {
		c.v4.add(flow.AddrU32(a), limit-len(c.v6))
		return
	}
	if c.v6 == nil {
		c.v6 = make(map[netip.Addr]uint64)
	}
	if _, ok := c.v6[a]; ok {
		c.v6[a]++
		return
	}
	if len(c.v4.keys)+len(c.v4.log)+len(c.v6) >= limit {
		// Near the cap, the IPv4 flows logged before this one take their
		// places first, so that arrival order decides across families too.
		c.v4.compact(limit - len(c.v6))
	}
	if len(c.v4.keys)+len(c.v6) < limit {
		c.v6[a] = 1
	} else {
		c.v4.extra().truncated = true // one flag for the whole set, read by truncated()
	}
}

// finish compacts the counts; len and all read the compacted table.
func (c *addrCounts) finish(limit int) { c.v4.compact(limit - len(c.v6)) }

func (c *addrCounts) truncated() bool { return c.v4.truncated() }

func (c *addrCounts) len() int { return len(c.v4.keys) + len(c.v6) }

func (c *addrCounts) all() iter.Seq2[netip.Addr, uint64] {
	return func(yield func(netip.Addr, uint64) bool) {
		for i, k := range c.v4.keys {
			if !yield(flow.AddrFromU32(k), c.v4.count(i)) {
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
