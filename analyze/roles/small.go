package roles

import (
	"iter"

	"github.com/flowsift/flowsift/analyze/internal/addrkey"
	"github.com/flowsift/flowsift/analyze/internal/u64map"
)

// smallMax is how many entries a small keeps in its list before it moves
// them to a map. Background radiation makes most hosts of a day: sources
// of a probe or three, each with as many peers, targets and source ports.
// Four maps each (a header and a group of eight slots at the first
// insert) were most of the analyser's allocations and memory, and their
// hashing most of its time; a scan of a few entries costs less than a hash.
const smallMax = 8

type kv[K comparable, V any] struct {
	k K
	v V
}

// small is a map that starts as a list. The zero small is empty. Its
// order of iteration is not the order of insertion once it spilled: its
// users count or sort, never rely on order.
type small[K comparable, V any] struct {
	list []kv[K, V]
	m    map[K]V
}

func (s *small[K, V]) len() int {
	if s.m != nil {
		return len(s.m)
	}
	return len(s.list)
}

func (s *small[K, V]) get(k K) (V, bool) {
	if s.m != nil {
		v, ok := s.m[k]
		return v, ok
	}
	for i := range s.list {
		if s.list[i].k == k {
			return s.list[i].v, true
		}
	}
	var zero V
	return zero, false
}

func (s *small[K, V]) set(k K, v V) {
	if s.m != nil {
		s.m[k] = v
		return
	}
	for i := range s.list {
		if s.list[i].k == k {
			s.list[i].v = v
			return
		}
	}
	switch {
	case s.list == nil:
		// Room for a background source's three probes in one allocation.
		s.list = make([]kv[K, V], 0, 4)
	case len(s.list) == smallMax:
		s.m = make(map[K]V, 2*smallMax)
		for _, e := range s.list {
			s.m[e.k] = e.v
		}
		s.list = nil
		s.m[k] = v
		return
	}
	s.list = append(s.list, kv[K, V]{k, v})
}

// all yields every entry; the loop body must not add to s.
func (s *small[K, V]) all() iter.Seq2[K, V] {
	return func(yield func(K, V) bool) {
		if s.m != nil {
			for k, v := range s.m {
				if !yield(k, v) {
					return
				}
			}
			return
		}
		for _, e := range s.list {
			if !yield(e.k, e.v) {
				return
			}
		}
	}
}

// peerSet is a small of peers whose spilled form keeps IPv4 peers (plain
// or mapped, as addrkey.Of keys them) in an open-addressing table: a busy
// server's peers are probed on every flow it sends or receives, and a Go
// map hashed their 16-byte keys with two or three cache misses a probe.
type peerSet struct {
	list []kv[addrkey.Addr, uint8]
	big  *bigPeers
}

type bigPeers struct {
	v4 u64map.Map[uint8]
	v6 map[addrkey.Addr]uint8
}

func is4(k addrkey.Addr) bool { return k[0] == 0 && k[1]>>32 == 0xffff }

func (s *peerSet) len() int {
	if s.big != nil {
		return s.big.v4.Len() + len(s.big.v6)
	}
	return len(s.list)
}

func (s *peerSet) get(k addrkey.Addr) (uint8, bool) {
	if s.big != nil {
		if is4(k) {
			if v, ok := s.big.v4.Get(k[1] & 0xffffffff); ok {
				return *v, true
			}
			return 0, false
		}
		v, ok := s.big.v6[k]
		return v, ok
	}
	for i := range s.list {
		if s.list[i].k == k {
			return s.list[i].v, true
		}
	}
	return 0, false
}

func (s *peerSet) set(k addrkey.Addr, v uint8) {
	if s.big == nil {
		for i := range s.list {
			if s.list[i].k == k {
				s.list[i].v = v
				return
			}
		}
		switch {
		case s.list == nil:
			s.list = make([]kv[addrkey.Addr, uint8], 0, 4)
		case len(s.list) == smallMax:
			s.big = &bigPeers{v6: map[addrkey.Addr]uint8{}}
			for _, e := range s.list {
				s.big.put(e.k, e.v)
			}
			s.list = nil
			s.big.put(k, v)
			return
		}
		s.list = append(s.list, kv[addrkey.Addr, uint8]{k, v})
		return
	}
	s.big.put(k, v)
}

func (b *bigPeers) put(k addrkey.Addr, v uint8) {
	if is4(k) {
		p, _ := b.v4.Upsert(k[1] & 0xffffffff)
		*p = v
		return
	}
	b.v6[k] = v
}

// all yields every peer; the loop body must not add to s.
func (s *peerSet) all() iter.Seq2[addrkey.Addr, uint8] {
	return func(yield func(addrkey.Addr, uint8) bool) {
		if s.big == nil {
			for _, e := range s.list {
				if !yield(e.k, e.v) {
					return
				}
			}
			return
		}
		for k, v := range s.big.v4.All() {
			if !yield(addrkey.Addr{0, 0xffff<<32 | k}, *v) {
				return
			}
		}
		for k, v := range s.big.v6 {
			if !yield(k, v) {
				return
			}
		}
	}
}
