package talkers

// portTable counts flows by a 16-bit port: 65536 counters, and a bit for
// each block of 256 ports that a counter was reached in. A day of traffic
// reaches every block (clients' ephemeral ports), a run over a few files
// only some: the tables, Distinct and the parts read only the blocks
// reached. Reading all 65536 counters of the source, destination and
// derived port tables faulted in their untouched pages, 4 KiB at a time
// where the heap was not set aside first (runs of less than a megabyte
// of input): on a report over one small file (750 flows) building the
// talkers' tables took 12 % of the CPU and a fifth of the page faults.
type portTable struct {
	c    []Counts // 65536 entries once allocated (see Counter.portArrays); nil before
	used [4]uint64
}

// blocks is how many blocks of 256 ports a portTable has.
const blocks = 256

func (t *portTable) alloc() {
	if t.c == nil {
		t.c = make([]Counts, 65536)
	}
}

// at returns port p's counters and marks its block reached.
func (t *portTable) at(p uint16) *Counts {
	t.used[p>>14] |= 1 << (p >> 8 & 63)
	return &t.c[p]
}

func (t *portTable) reached(b int) bool { return t.used[b>>6]&(1<<(b&63)) != 0 }

// each calls f for every port with a flow, in port order.
func (t *portTable) each(f func(p uint16, n Counts)) {
	for b := range blocks {
		if !t.reached(b) {
			continue
		}
		for i := b << 8; i < (b+1)<<8; i++ {
			if t.c[i].Flows != 0 {
				f(uint16(i), t.c[i])
			}
		}
	}
}

// len is the number of ports with a flow.
func (t *portTable) len() int {
	n := 0
	t.each(func(uint16, Counts) { n++ })
	return n
}

// sumPorts is the Port table of source and destination ports s and d: a flow
// counts once under each of its ports.
func sumPorts(s, d *portTable) *portTable {
	out := &portTable{}
	if s.c == nil && d.c == nil {
		return out
	}
	out.alloc()
	add := func(p uint16, n Counts) { out.at(p).sum(&n) }
	s.each(add)
	d.each(add)
	return out
}
