package roles

import (
	"iter"
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
