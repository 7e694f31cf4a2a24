package episode

import "slices"

// portSet is an episode's destination ports as the views read them:
// distinct port numbers, each with its flows summed over the protocols.
// It keeps the run's own table (keys protocol<<16 | port, one byte a
// count) instead of a copy: on the week's archive, where nearly every
// source's week-long run became an episode, 16-byte copies of 12 M ports
// were 200 MB at the report's peak, on top of the tables they came from.
type portSet struct {
	t keyCounts
	// segs are where each protocol's keys start in t.keys, and
	// len(t.keys) last: within one protocol the keys go by port.
	segs []int
	n    int // distinct port numbers
}

// newPortSet makes the set of the compacted table t (which it takes over)
// and of the ports in extra (sorted, distinct) that no protocol of t has,
// with no flows: the ports only a finding's evidence names.
func newPortSet(t keyCounts, extra []uint16) portSet {
	s := portSet{t: t}
	s.index()
	var lack []uint32
	for _, p := range extra {
		if !s.has(p) {
			lack = append(lack, uint32(p)) // protocol 0: sorts before the others
		}
	}
	if len(lack) > 0 {
		s.t.merge(lack, make([]uint64, len(lack)))
		s.index()
	}
	s.n = 0
	s.each(func(uint16, uint64) { s.n++ })
	return s
}

// portSetOf makes the set of ports and their flows, sorted by port and
// distinct (a part's episode).
func portSetOf(ports []uint16, flows []uint64) portSet {
	var t keyCounts
	keys := make([]uint32, len(ports))
	for i, p := range ports {
		keys[i] = uint32(p)
	}
	t.merge(keys, flows)
	return newPortSet(t, nil)
}

func (s *portSet) index() {
	s.segs = s.segs[:0]
	for i, k := range s.t.keys {
		if i == 0 || k>>16 != s.t.keys[i-1]>>16 {
			s.segs = append(s.segs, i)
		}
	}
	s.segs = append(s.segs, len(s.t.keys))
}

func (s *portSet) len() int { return s.n }

// has says whether any protocol has port p.
func (s *portSet) has(p uint16) bool {
	for i := 0; i+1 < len(s.segs); i++ {
		seg := s.t.keys[s.segs[i]:s.segs[i+1]]
		if _, ok := slices.BinarySearch(seg, seg[0]&^0xffff|uint32(p)); ok {
			return true
		}
	}
	return false
}

// each calls f for every port in port order with its flows over all the
// protocols: a merge of the protocols' runs of keys (a handful).
func (s *portSet) each(f func(port uint16, flows uint64)) {
	segs := len(s.segs) - 1
	if segs == 1 {
		for i, k := range s.t.keys {
			f(uint16(k), s.t.count(i))
		}
		return
	}
	if segs <= 0 {
		return
	}
	pos := slices.Clone(s.segs[:segs])
	for {
		best, found := uint16(0), false
		for i, j := range pos {
			if j < s.segs[i+1] {
				if p := uint16(s.t.keys[j]); !found || p < best {
					best, found = p, true
				}
			}
		}
		if !found {
			return
		}
		var n uint64
		for i, j := range pos {
			if j < s.segs[i+1] && uint16(s.t.keys[j]) == best {
				n += s.t.count(j)
				pos[i]++
			}
		}
		f(best, n)
	}
}
