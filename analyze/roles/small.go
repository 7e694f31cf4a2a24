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

// packer is a key that may pack into 64 bits (an IPv4 address, alone or
// with a protocol and a port): such keys of a spilled set live in an
// open-addressing table (see u64map), one cache miss a lookup, where a Go
// map hashed 16 or 24 bytes and took two or three. A busy host's peers and
// targets are probed on every flow it sends or receives.
type packer interface {
	comparable
	pack() (uint64, bool)
}

// set is a small whose spilled form keeps packed keys apart. Its values
// are reached by pointer, so an update costs one lookup; a pointer is
// valid until the next add. The zero set is empty.
type set[K packer, V any] struct {
	list []kv[K, V]
	big  *spilled[K, V]
}

type spilled[K packer, V any] struct {
	packed u64map.Map[V]
	other  map[K]*V
}

func (s *set[K, V]) len() int {
	if s.big != nil {
		return s.big.packed.Len() + len(s.big.other)
	}
	return len(s.list)
}

// get returns k's value, nil if k is absent.
func (s *set[K, V]) get(k K) *V {
	if s.big == nil {
		for i := range s.list {
			if s.list[i].k == k {
				return &s.list[i].v
			}
		}
		return nil
	}
	if p, ok := k.pack(); ok {
		v, _ := s.big.packed.Get(p)
		return v
	}
	return s.big.other[k]
}

// add adds k, which must be absent, with the zero value and returns it.
func (s *set[K, V]) add(k K) *V {
	if s.big == nil {
		switch {
		case s.list == nil:
			// Room for a background source's three probes in one
			// allocation.
			s.list = make([]kv[K, V], 0, 4)
		case len(s.list) == smallMax:
			s.big = &spilled[K, V]{other: map[K]*V{}}
			for _, e := range s.list {
				*s.big.add(e.k) = e.v
			}
			s.list = nil
			return s.big.add(k)
		}
		s.list = append(s.list, kv[K, V]{k: k})
		return &s.list[len(s.list)-1].v
	}
	return s.big.add(k)
}

func (b *spilled[K, V]) add(k K) *V {
	if p, ok := k.pack(); ok {
		v, _ := b.packed.Upsert(p)
		return v
	}
	v := new(V)
	b.other[k] = v
	return v
}

// values yields every value; the loop body must not add to s.
func (s *set[K, V]) values() iter.Seq[*V] {
	return func(yield func(*V) bool) {
		if s.big == nil {
			for i := range s.list {
				if !yield(&s.list[i].v) {
					return
				}
			}
			return
		}
		for _, v := range s.big.packed.All() {
			if !yield(v) {
				return
			}
		}
		for _, v := range s.big.other {
			if !yield(v) {
				return
			}
		}
	}
}

func is4(k addrkey.Addr) bool { return k[0] == 0 && k[1]>>32 == 0xffff }
