package talkers

// table64 counts keys that pack into 64 bits (an IPv4 address, an IPv4
// pair): the bulk of real traffic. Keys and counters share a slot (open
// addressing, linear probing), so a lookup costs one cache miss, and the
// table holds no pointer for the garbage collector to scan.
//
// It is split by the top bits of the hash into parts that grow on their
// own. A single table doubling to tens of megabytes copied every slot and
// left the old array as garbage; fresh memory is what a run pays most for
// (the first touch of a page is a page fault), and a part's old array is
// small enough for the next part's growth to reuse.
type table64 struct {
	parts [nParts]part64
	n     int // keys in the table
}

const (
	partBits     = 8
	nParts       = 1 << partBits
	minPartSlots = 8
)

type part64 struct {
	slots []slot64
	mask  uint64
	n     int
}

// slot64 is empty while Flows is 0: a key counted has at least one flow.
type slot64 struct {
	key uint64
	Counts
}

// mix is the 64-bit finaliser of MurmurHash3: packed addresses differ in
// few bits, and the parts and slots need them spread over the whole word.
func mix(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	k *= 0xc4ceb9fe1a85ec53
	k ^= k >> 33
	return k
}

// at returns the counters of key k (whose mix is h), adding it if absent.
// The caller adds at least one flow to a key it adds.
func (t *table64) at(k, h uint64) *Counts {
	p := &t.parts[h>>(64-partBits)]
	if p.slots == nil {
		p.slots = make([]slot64, minPartSlots)
		p.mask = minPartSlots - 1
	}
	for i := h & p.mask; ; i = (i + 1) & p.mask {
		s := &p.slots[i]
		if s.Flows == 0 {
			// Three quarters full at most: probes stay short.
			if (p.n+1)*4 > len(p.slots)*3 {
				p.grow()
				return t.at(k, h)
			}
			s.key = k
			p.n++
			t.n++
			return &s.Counts
		}
		if s.key == k {
			return &s.Counts
		}
	}
}

func (p *part64) grow() {
	old := p.slots
	p.slots = make([]slot64, 2*len(old))
	p.mask = uint64(len(p.slots) - 1)
	for j := range old {
		if old[j].Flows == 0 {
			continue
		}
		i := mix(old[j].key) & p.mask
		for p.slots[i].Flows != 0 {
			i = (i + 1) & p.mask
		}
		p.slots[i] = old[j]
	}
}

// each calls f for every key, in an order that depends only on the keys.
func (t *table64) each(f func(key uint64, n *Counts)) {
	for pi := range t.parts {
		p := &t.parts[pi]
		for i := range p.slots {
			if s := &p.slots[i]; s.Flows != 0 {
				f(s.key, &s.Counts)
			}
		}
	}
}
