package talkers

import (
	"unsafe"

	"github.com/flowsift/flowsift/analyze/internal/prefetch"
	"github.com/flowsift/flowsift/analyze/internal/u64map"
)

// table64 counts keys that pack into 64 bits (an IPv4 address, an IPv4
// pair): the bulk of real traffic. Keys and counters share a slot (open
// addressing, linear probing), so a lookup costs one cache miss, and the
// table holds no pointer for the garbage collector to scan.
//
// A slot is 16 bytes: the key and one word that packs the three counters
// in 62 bits. Most pairs carry a few flows, packets and kilobytes, which
// the word holds; a counter that would outgrow its field moves all three
// into an exact side table (over), and the word counts on from zero. The
// slot was 32 bytes (three uint64s): half the pairs fitted in the
// talkers' share of the budget, and the 3-day, 1M-flow tree spilled
// twice under the default 1 GiB.
//
// It grows by extendible hashing: slots live in pages of a fixed size, a
// directory indexed by the top bits of the hash names each key's page, and
// a full page splits in two, keeping its memory and taking one new page. A
// table that doubled (whole, or in parts) left every old array behind as
// garbage, and the fresh memory each doubling took is what a run pays most
// for: on the 1M-flow tree the doublings of the pair table cost more CPU
// than counting in it. Here memory only grows by the pages in use.
type table64 struct {
	dir   []int32 // 1<<depth entries: index into pages
	depth uint
	pages [][]slot64
	fill  []int32 // keys per page
	local []uint8 // bits of the hash a page's keys share (its depth)
	n     int     // keys in the table
	spare []slot64
	// over holds the counts that left a slot's word, by key; a slot
	// whose word has wOver set has an entry.
	over u64map.Map[Counts]
}

const (
	pageSlots = 512 // 8 KiB pages
	// maxDepth bounds the directory (4 MiB). Keys whose hashes agree in
	// that many top bits beyond a page's worth (only crafted input could)
	// make their page grow instead of split.
	maxDepth = 20
)

// slot64 is empty while w is 0.
type slot64 struct {
	key uint64
	w   uint64 // wUsed | wOver | bytes<<byteShift | packets<<pktShift | flows
}

// slotBytes is a slot's size, pageBytes a page's.
const (
	slotBytes = 16
	pageBytes = pageSlots * slotBytes
)

// The word's fields. 12 bits of flows, 20 of packets and 30 of bytes: a
// field fills after 4,095 flows, a million packets or a gigabyte, and
// then costs one side-table update.
const (
	wUsed     = 1 << 63
	wOver     = 1 << 62
	flowMask  = 1<<12 - 1
	pktShift  = 12
	pktMask   = 1<<20 - 1
	byteShift = 32
	byteMask  = 1<<30 - 1
)

// counts returns a slot's whole counts.
func (t *table64) counts(s *slot64) Counts {
	c := Counts{Flows: s.w & flowMask, Packets: s.w >> pktShift & pktMask, Bytes: s.w >> byteShift & byteMask}
	if s.w&wOver != 0 {
		if o, ok := t.over.Get(s.key); ok {
			c.sum(o)
		}
	}
	return c
}

// mix spreads a packed key over the word: pages take its top bits, slots
// its low ones.
func mix(k uint64) uint64 { return u64map.Hash(k) }

// page returns the index of the page for hash h.
func (t *table64) page(h uint64) int32 {
	if t.depth == 0 {
		return 0
	}
	return t.dir[h>>(64-t.depth)]
}

// add adds c to key k (whose mix is h), adding the key if absent.
func (t *table64) add(k, h uint64, c Counts) {
	s := t.at(k, h)
	if c.Flows <= flowMask && c.Packets <= pktMask && c.Bytes <= byteMask {
		f := s.w&flowMask + c.Flows
		p := s.w>>pktShift&pktMask + c.Packets
		b := s.w>>byteShift&byteMask + c.Bytes
		if f <= flowMask && p <= pktMask && b <= byteMask {
			s.w = s.w&(wUsed|wOver) | b<<byteShift | p<<pktShift | f
			return
		}
	}
	t.carry(s, c)
}

// carry moves a slot's counts and c to the side table: kept out of add,
// which the compiler then inlines into the per-flow path.
//
//go:noinline
func (t *table64) carry(s *slot64, c Counts) {
	o, _ := t.over.Upsert(s.key)
	o.sum(&c)
	o.Flows += s.w & flowMask
	o.Packets += s.w >> pktShift & pktMask
	o.Bytes += s.w >> byteShift & byteMask
	s.w = wUsed | wOver
}

// prefetch asks for the slot a probe for the key of mix h starts at. A
// split before the key is added makes it a wasted hint, nothing worse.
func (t *table64) prefetch(h uint64) {
	if t.pages == nil {
		return
	}
	p := t.pages[t.page(h)]
	prefetch.Line(unsafe.Pointer(&p[h&uint64(len(p)-1)]))
}

// endSums adds pairs' counts to their source's and destination's tables,
// asking for each slot endsAhead pairs before it is added to: the tables
// hold every source and destination of the run, and a pair's two adds were
// each a cache miss in turn (on a day of background radiation, 5.3 M
// sources, 5.2 of the report's 78 CPU s). The sums do not depend on the
// order of the adds.
type endSums struct {
	src, dst *table64
	ring     [endsAhead]pendingEnds
	next     int // ring slot of the oldest pair held, and of the next
	held     int
}

type pendingEnds struct {
	s, d, hs, hd uint64
	n            Counts
}

const endsAhead = 16

func (e *endSums) add(s, d uint64, n Counts) {
	hs, hd := mix(s), mix(d)
	e.src.prefetch(hs)
	e.dst.prefetch(hd)
	p := &e.ring[e.next]
	if e.held == endsAhead {
		e.src.add(p.s, p.hs, p.n)
		e.dst.add(p.d, p.hd, p.n)
	} else {
		e.held++
	}
	*p = pendingEnds{s, d, hs, hd, n}
	e.next = (e.next + 1) % endsAhead
}

// flush adds the pairs still held.
func (e *endSums) flush() {
	for ; e.held > 0; e.held-- {
		p := &e.ring[(e.next+endsAhead-e.held)%endsAhead]
		e.src.add(p.s, p.hs, p.n)
		e.dst.add(p.d, p.hd, p.n)
	}
}

// at returns key k's slot (whose mix is h), adding it if absent.
func (t *table64) at(k, h uint64) *slot64 {
	if t.pages == nil {
		t.pages = [][]slot64{make([]slot64, pageSlots)}
		t.fill, t.local, t.dir = []int32{0}, []uint8{0}, []int32{0}
	}
	pi := t.page(h)
	p := t.pages[pi]
	mask := uint64(len(p) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &p[i]
		if s.w == 0 {
			// Seven eighths full at most: splitting at three quarters
			// took 38.8 MB for the generated 1M flows instead of 23.8,
			// and fresh memory cost more than the longer probes.
			if int(t.fill[pi]) >= len(p)*7/8 {
				t.split(pi)
				return t.at(k, h)
			}
			s.key, s.w = k, wUsed
			t.fill[pi]++
			t.n++
			return s
		}
		if s.key == k {
			return s
		}
	}
}

// split divides page pi by the next bit of its keys' hashes, or doubles it
// at maxDepth.
func (t *table64) split(pi int32) {
	ld := uint(t.local[pi])
	if ld == maxDepth {
		t.rebuild(pi, make([]slot64, 2*len(t.pages[pi])), -1)
		return
	}
	if ld == t.depth {
		dir := make([]int32, 2*len(t.dir))
		for j := range dir {
			dir[j] = t.dir[j>>1]
		}
		t.dir = dir
		t.depth++
	}
	ni := int32(len(t.pages))
	t.pages = append(t.pages, make([]slot64, pageSlots))
	t.fill = append(t.fill, 0)
	t.local = append(t.local, uint8(ld+1))
	t.local[pi] = uint8(ld + 1)
	// The page's directory entries are a run of 1<<(depth-ld) sharing its
	// keys' top ld bits; the upper half now names the new page.
	var h0 uint64
	for _, s := range t.pages[pi] {
		if s.w != 0 {
			h0 = mix(s.key)
			break
		}
	}
	span := 1 << (t.depth - ld)
	start := 0
	if ld > 0 {
		start = int(h0>>(64-ld)) << (t.depth - ld)
	}
	for j := start + span/2; j < start+span; j++ {
		t.dir[j] = ni
	}
	t.rebuild(pi, t.pages[pi], ni)
}

// rebuild reinserts page pi's keys into into (pi's new slots) and, when
// other >= 0, the page other, each key where the directory now sends it.
func (t *table64) rebuild(pi int32, into []slot64, other int32) {
	old := t.pages[pi]
	if &into[0] == &old[0] {
		t.spare = append(t.spare[:0], old...)
		old = t.spare
		clear(into)
	}
	t.pages[pi] = into
	t.fill[pi] = 0
	for _, s := range old {
		if s.w == 0 {
			continue
		}
		h := mix(s.key)
		dst := pi
		if other >= 0 {
			dst = t.page(h)
		}
		p := t.pages[dst]
		mask := uint64(len(p) - 1)
		i := h & mask
		for p[i].w != 0 {
			i = (i + 1) & mask
		}
		p[i] = s
		t.fill[dst]++
	}
}

// each calls f for every key, in no particular order (the tables sort).
func (t *table64) each(f func(key uint64, n Counts)) {
	for _, p := range t.pages {
		for i := range p {
			if s := &p[i]; s.w != 0 {
				f(s.key, t.counts(s))
			}
		}
	}
}

// bytes is the table's memory: pages, directory and side table.
func (t *table64) bytes() int64 {
	n := int64(len(t.dir)) * 4
	for _, p := range t.pages {
		n += int64(len(p)) * slotBytes
	}
	return n + int64(t.over.Slots())*32 // a key and a Counts
}

// resetEven empties the table into n pages (a power of two) of one depth,
// reusing the pages it has: a table that starts again from one page
// rebuilds every key once for each doubling on its way back to its size
// (on the 3-day, 1M-flow tree 0.2 of 0.75 CPU s of the talkers after
// their spills), pages that start even split once each.
func (t *table64) resetEven(n int) {
	depth := uint(0)
	for 1<<depth < n {
		depth++
	}
	n = 1 << depth
	pages := t.pages[:0]
	for _, p := range t.pages {
		if len(pages) == n {
			break
		}
		if len(p) == pageSlots {
			clear(p)
			pages = append(pages, p)
		}
	}
	for len(pages) < n {
		pages = append(pages, make([]slot64, pageSlots))
	}
	clear(t.pages[len(pages):cap(t.pages)])
	t.pages = pages
	t.fill = make([]int32, n)
	t.local = make([]uint8, n)
	t.dir = make([]int32, n)
	for i := range n {
		t.local[i] = uint8(depth)
		t.dir[i] = int32(i)
	}
	t.depth = depth
	t.n = 0
	t.over = u64map.Map[Counts]{} // its memory goes with the pages'
}

// reset empties the table and keeps its pages and directory: a table
// that spilled fills the same memory again.
func (t *table64) reset() {
	for i, p := range t.pages {
		clear(p)
		t.fill[i] = 0
	}
	t.n = 0
	t.over.Clear()
}
