package roles

import (
	"github.com/flowsift/flowsift/analyze/internal/addrkey"
	"github.com/flowsift/flowsift/analyze/internal/u64map"
)

// Peers are kept per pair of hosts, not per host: a flow's two hosts share
// one entry, so a flow costs one probe where a set per host cost two, and
// the destination host is looked up only when its view of the pair
// changes (a repeated flow changes nothing). The peer sets of hosts with
// many peers were also most of the analyser's memory.
//
// Each entry holds the view of each end: whether the other end is among
// that host's peers (counted: the host was followed, and under MaxPeers,
// when it first met it), and then whether the host sent to it and it to
// the host. That is exactly what a set of peers per host held, so the
// caps and the forgetting of hosts behave as they did.
type view uint8

const (
	vCounted view = 1 << iota
	vOut          // the host sent to the peer
	vIn           // the peer sent to the host
)

// pairState packs the two views: the lower key's in bits 0-2, the
// higher's in bits 3-5 (a pair of one key, an address seen both plain and
// IPv4-mapped, uses side 0 only).
type pairState uint8

func (s pairState) view(side int) view { return view(s>>(3*side)) & 7 }

func (s *pairState) setView(side int, v view) {
	*s = *s&^(7<<(3*side)) | pairState(v)<<(3*side)
}

// pairTable holds the pairs: both ends IPv4 (plain or mapped) packed in an
// open-addressing table of seven pairs to a cache line (u64map.Bytes: a
// byte a pair, where a slot of u64map.Map takes 16), the rest in a map.
type pairTable struct {
	v4    u64map.Bytes[pairState]
	other map[[2]addrkey.Addr]*pairState
}

// pairRef is a pair as a flow names it: its key, the sides of the flow's
// source (sa) and destination (sb) in it, and whether upsert added it.
type pairRef struct {
	v4      bool
	packed  uint64
	key     [2]addrkey.Addr
	sa, sb  int
	created bool
}

// refOf orders a and b into the pair's key.
func refOf(a, b addrkey.Addr) pairRef {
	lo, hi, sa, sb := a, b, 0, 1
	if less(b, a) {
		lo, hi, sa, sb = b, a, 1, 0
	} else if a == b {
		sb = 0
	}
	if is4(lo) && is4(hi) {
		return pairRef{v4: true, packed: (lo[1]&0xffffffff)<<32 | hi[1]&0xffffffff, sa: sa, sb: sb}
	}
	return pairRef{key: [2]addrkey.Addr{lo, hi}, sa: sa, sb: sb}
}

func less(a, b addrkey.Addr) bool { return a[0] < b[0] || (a[0] == b[0] && a[1] < b[1]) }

// get returns the pair's state, nil if it has none.
func (t *pairTable) get(p *pairRef) *pairState {
	if p.v4 {
		s, _ := t.v4.Get(p.packed)
		return s
	}
	return t.other[p.key]
}

// upsert returns the pair's state, adding the pair (p.created says so).
// The pointer is valid until the next upsert or removal.
func (t *pairTable) upsert(p *pairRef) *pairState {
	if p.v4 {
		s, added := t.v4.Upsert(p.packed)
		p.created = added
		return s
	}
	s := t.other[p.key]
	if s == nil {
		s = new(pairState)
		t.other[p.key] = s
		p.created = true
	}
	return s
}

// remove drops a pair that neither end counts.
func (t *pairTable) remove(p *pairRef) {
	if p.v4 {
		t.v4.Delete(p.packed)
		return
	}
	delete(t.other, p.key)
}

// forget clears the views of the hosts gone (the keys of those forgotten)
// and drops the pairs left with no view.
func (t *pairTable) forget(gone *hostSet) {
	t.v4.DeleteFunc(func(k uint64, s *pairState) bool {
		for side, h := range [2]uint64{k >> 32, k & 0xffffffff} {
			if s.view(side)&vCounted != 0 && gone.has4(h) {
				s.setView(side, 0)
			}
		}
		return *s == 0
	})
	for k, s := range t.other {
		for side, h := range k {
			if s.view(side)&vCounted != 0 && gone.has(h) {
				s.setView(side, 0)
			}
		}
		if *s == 0 {
			delete(t.other, k)
		}
	}
}

// hostSet is a set of host keys, the IPv4 ones packed as the pair table
// packs them.
type hostSet struct {
	v4    u64map.Map[struct{}]
	other map[addrkey.Addr]struct{}
}

// clear empties the set, keeping its table for the next press: a new
// set a press, grown from nothing to the tens of thousands of hosts it
// forgets, allocated 0.35 GB on a day of background radiation.
func (g *hostSet) clear() {
	g.v4.Clear()
	clear(g.other)
}

func (g *hostSet) add(k addrkey.Addr) {
	if is4(k) {
		g.v4.Upsert(k[1] & 0xffffffff)
		return
	}
	if g.other == nil {
		g.other = map[addrkey.Addr]struct{}{}
	}
	g.other[k] = struct{}{}
}

func (g *hostSet) has4(k uint64) bool {
	_, ok := g.v4.Get(k)
	return ok
}

func (g *hostSet) has(k addrkey.Addr) bool {
	if is4(k) {
		return g.has4(k[1] & 0xffffffff)
	}
	_, ok := g.other[k]
	return ok
}
