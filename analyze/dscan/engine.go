package dscan

import (
	"net/netip"
	"slices"
	"sync"
	"unsafe"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/analyze/internal/prefetch"
	"github.com/flowsift/flowsift/analyze/internal/u64map"
	"github.com/flowsift/flowsift/flow"
)

// Engine is the default-mode detector: flow-dscan's rules with its quirks
// fixed (see DIFFERENCES.md):
//   - suppress entries honour protocol and ports, may be CIDR prefixes,
//     and the .dst list is looked up by destination;
//   - depth is not limited to 255;
//   - aging is exact: a destination expires as soon as more than
//     AgerTimeout flows have been read since it was last seen, and a
//     source whose destinations have all expired is forgotten, flags and
//     all;
//   - a reported source keeps being tracked: its destinations keep aging
//     and a port scanner can still be reported as a host scanner (and the
//     other way round); each kind is reported once per record lifetime.
//
// With exact aging a source's fate depends only on its own flows and the
// global flow index, so sources are split over nParts fixed partitions
// (by a fixed hash of the address) and the partitions over Jobs
// goroutines; findings are merged back by flow index, so the output is the
// same for every Jobs. MaxSources is enforced per partition (MaxSources /
// nParts each), which is also independent of Jobs.
//
// Memory (measured with runtime.MemStats after GC, BenchmarkBytesPerSource
// and BenchmarkBytesPerDestination, IPv4): about 335 bytes per tracked
// source with its first destination on a port below 1024 (144 of them the
// destination's port bitmap), and about 88 bytes per further destination
// on a port of 1024 or more (plus 144 for the bitmap when a port below 1024
// was seen). --max-sources bounds sources, and a source's list never holds
// more than D (-D) destinations: an unreported source is reported when it
// reaches D, and a reported host scanner forgets its least recently seen
// destination beyond D. So the table is bounded by about
// MaxSources x (335 + D x 232) bytes whatever -t is.
type Engine struct {
	cfg     Config
	onEvent func(Event)
	total   uint64
	parts   [nParts]*part

	trimmedSrc int    // sources whose lists LoadState cut to D
	trimmedDst uint64 // destinations it dropped

	jobs    int
	split   bool // cfg.Sources is a part of the source space
	work    []chan flow.Batch
	wg      sync.WaitGroup
	started bool
}

const nParts = 16

// part is one partition of the sources. Its maps are keyed by integers for
// IPv4 (the fast map paths; a netip.Addr key costs a 24-byte hash and
// compare per probe), with netip.Addr-keyed maps for everything else, and
// one destination map for the whole partition instead of a map per source
// (a per-source map costs about 500 bytes before its first entry).
type part struct {
	cfg *Config
	// The IPv4 tables are probed for nearly every flow: open addressing
	// with the pointer in the slot (u64map) spares the Go map's control
	// word, one cache miss of two.
	srcs4   u64map.Map[*source]
	srcs6   map[netip.Addr]*source
	dsts4   u64map.Map[*dest] // IPv4 src<<32 | IPv4 dst
	dstsX   map[[2]netip.Addr]*dest
	nsrc    int
	lru     srcList // least recently seen first
	cap     int
	evicted uint64
	events  []pending
	// Recycled destinations and port sets: a busy archive creates and ages
	// out a destination every few flows, and reusing them spares the
	// allocator and the garbage collector most of the engine's memory
	// traffic.
	freeDst   *dest
	freePorts []*portSet
	// Recycled sources, linked by next: behind background radiation a
	// source comes every few flows and ages out (on a day of it, 5.3 M
	// sources took 0.4 GB).
	freeSrc *source
}

type pending struct {
	idx uint64
	sub int // order of events of one flow: triggers, then the scan finding
	ev  Event
}

type source struct {
	addr     netip.Addr
	lastSeen uint64
	// headSeen is at most the seen of the list's head, which only grows
	// (the list is in seen order): the ager reads the head, a cache miss
	// a flow, only when headSeen says a destination may be due.
	headSeen   uint64
	prev, next *source
	dl         destList // least recently seen first
	ndst       int32    // 80 bytes with the flags, as before headSeen
	flags      uint8
}

type dest struct {
	addr       netip.Addr
	seen       uint64
	ports      *portSet
	prev, next *dest
}

// New returns a default-mode engine. onEvent receives findings in stream
// order from the calling goroutine; it may be nil.
func New(cfg Config, onEvent func(Event)) *Engine {
	e := &Engine{cfg: cfg, onEvent: onEvent, jobs: max(cfg.Jobs, 1), split: !cfg.Sources.Whole()}
	if e.jobs > nParts {
		e.jobs = nParts
	}
	capPer := 0
	if cfg.MaxSources > 0 {
		capPer = max((cfg.MaxSources+nParts-1)/nParts, 1)
	}
	for i := range e.parts {
		e.parts[i] = newPart(&e.cfg, capPer)
	}
	return e
}

// partOf is a fixed (not per-process) hash of an address.
func partOf(a netip.Addr) int {
	if a.Is4() {
		b := a.As4()
		v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		v *= 0x9E3779B1
		return int(v >> 28)
	}
	b := a.As16()
	var h uint32 = 2166136261
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	return int(h >> 28)
}

// Total is the number of flows read so far (including a loaded state's).
func (e *Engine) Total() uint64 { return e.total }

// Evicted is how many sources --max-sources pushed out.
func (e *Engine) Evicted() uint64 {
	var n uint64
	for _, p := range e.parts {
		n += p.evicted
	}
	return n
}

// Sources is how many sources are tracked now.
func (e *Engine) Sources() int {
	n := 0
	for _, p := range e.parts {
		n += p.nsrc
	}
	return n
}

func (e *Engine) start() {
	e.started = true
	if e.jobs == 1 {
		return
	}
	e.work = make([]chan flow.Batch, e.jobs)
	for j := range e.work {
		ch := make(chan flow.Batch)
		e.work[j] = ch
		go func(j int) {
			for b := range ch {
				e.run(b, j)
				e.wg.Done()
			}
		}(j)
	}
}

// Process runs a batch through the engine. Findings of the batch are
// delivered before it returns.
func (e *Engine) Process(b flow.Batch) {
	if !e.started {
		e.start()
	}
	if e.jobs == 1 {
		e.run(b, 0)
	} else {
		e.wg.Add(e.jobs)
		for _, ch := range e.work {
			ch <- b
		}
		e.wg.Wait()
	}
	e.total += uint64(len(b))
	e.deliver()
	for _, p := range e.parts {
		p.sweep(e.total, e.cfg.AgerTimeout)
	}
}

// Flush stops the worker goroutines; the engine may be used again.
func (e *Engine) Flush() {
	for _, ch := range e.work {
		close(ch)
	}
	e.work = nil
	e.started = false
}

func (e *Engine) run(b flow.Batch, shard int) {
	for i := range b {
		if j := i + lookAhead; j < len(b) {
			e.prefetch(&b[j], shard)
		}
		r := &b[i]
		k := partOf(r.Src)
		if k%e.jobs != shard || (e.split && !e.cfg.Sources.Owns(r.Src)) {
			continue
		}
		e.parts[k].flow(r, e.total+uint64(i)+1)
	}
}

// lookAhead is how many flows ahead run prefetches the tables' slots (see
// u64map.Prefetch).
const lookAhead = 16

// prefetch asks for the slots of r's source and pair, if r is the shard's.
func (e *Engine) prefetch(r *flow.Record, shard int) {
	k := partOf(r.Src)
	if k%e.jobs != shard || !r.Src.Is4() || !r.Dst.Is4() {
		return
	}
	p := e.parts[k]
	s := uint64(flow.AddrU32(r.Src))
	p.srcs4.Prefetch(s)
	p.dsts4.Prefetch(s<<32 | uint64(flow.AddrU32(r.Dst)))
}

func (e *Engine) deliver() {
	var all []pending
	for _, p := range e.parts {
		all = append(all, p.events...)
		p.events = p.events[:0]
	}
	if len(all) == 0 {
		return
	}
	slices.SortStableFunc(all, func(a, b pending) int {
		if a.idx != b.idx {
			if a.idx < b.idx {
				return -1
			}
			return 1
		}
		return a.sub - b.sub
	})
	if e.onEvent != nil {
		for _, p := range all {
			e.onEvent(p.ev)
		}
	}
}

func (p *part) emit(idx uint64, sub int, f analyze.Finding) {
	f.Detector, f.Index = "dscan", idx
	p.events = append(p.events, pending{idx, sub, Event{Kind: EvFinding, Finding: f}})
}

func (p *part) flow(r *flow.Record, idx uint64) {
	c := p.cfg
	if c.filtered(r) {
		return
	}
	if sup := c.Suppress; sup != nil &&
		(sup.Src.Match(r.Src, r.Proto, r.SrcPort, r.DstPort) || sup.Dst.Match(r.Dst, r.Proto, r.SrcPort, r.DstPort)) {
		return
	}
	c.triggers(r, func(k int) {
		p.emit(idx, k, analyze.Finding{Kind: trigKinds[k], Src: r.Src, Dst: r.Dst, Time: r.Start, Flow: *r,
			Rule: trigRules[k], Threshold: trigThreshold(c, k), Value: trigValue(r, k)})
	})
	T := c.AgerTimeout
	s := p.getSrc(r.Src)
	if s != nil && T != 0 && idx-s.lastSeen > T {
		p.drop(s)
		s = nil
	}
	if s == nil {
		if p.cap > 0 && p.nsrc >= p.cap {
			p.drop(p.lru.head)
			p.evicted++
		}
		s = p.newSource(r.Src)
		p.putSrc(s)
		p.addDest(s, r, idx)
		s.lastSeen = idx
		p.lru.pushBack(s)
		return
	}
	if T != 0 && idx-s.headSeen > T {
		for d := s.dl.head; d != nil && idx-d.seen > T; d = s.dl.head {
			p.delDst(s, d)
		}
		if s.dl.head != nil {
			s.headSeen = s.dl.head.seen
		} else {
			s.headSeen = idx // what comes later is seen later
		}
	}
	if d := p.getDst(s, r.Dst); d != nil {
		d.seen = idx
		s.dl.moveBack(d)
		if r.DstPort < 1024 && s.flags&FlagPortScan == 0 {
			if d.ports == nil {
				d.ports = p.newPorts()
			}
			d.ports.add(r.DstPort)
			if d.ports.n >= c.PortTrigger {
				p.emit(idx, 3, analyze.Finding{Kind: analyze.PortScan, Src: r.Src, Dst: r.Dst, Time: r.Start, Flow: *r,
					Rule: "ports of one destination >= S", Threshold: float64(c.PortTrigger), Value: float64(d.ports.n),
					Targets: []netip.Addr{r.Dst}, Ports: d.ports.list()})
				p.freePorts = append(p.freePorts, d.ports)
				d.ports = nil
				s.flags |= FlagPortScan
			}
		}
	} else {
		if int(s.ndst) >= c.Depth && s.flags&FlagHostScan == 0 {
			p.emit(idx, 3, analyze.Finding{Kind: analyze.HostScan, Src: r.Src, Dst: r.Dst, Time: r.Start, Flow: *r,
				Rule: "destinations >= D", Threshold: float64(c.Depth), Value: float64(s.ndst + 1),
				Targets: s.targets(), Ports: s.ports()})
			s.flags |= FlagHostScan
		}
		p.addDest(s, r, idx)
		// A reported host scanner needs no more than D destinations (the
		// list only serves port counts and aging now): dropping its least
		// recently seen one bounds every source's list by D, even with -t 0.
		if s.flags&FlagHostScan != 0 && int(s.ndst) > c.Depth {
			p.delDst(s, s.dl.head)
		}
	}
	s.lastSeen = idx
	p.lru.moveBack(s)
}

func (p *part) addDest(s *source, r *flow.Record, idx uint64) {
	d := p.freeDst
	if d != nil {
		p.freeDst = d.next
		// The free list is in no order of memory: ask now for the node
		// the next new destination takes.
		if p.freeDst != nil {
			prefetch.Line(unsafe.Pointer(p.freeDst))
		}
		*d = dest{addr: r.Dst, seen: idx}
	} else {
		d = &dest{addr: r.Dst, seen: idx}
	}
	if r.DstPort < 1024 && s.flags&FlagPortScan == 0 {
		d.ports = p.newPorts()
		d.ports.add(r.DstPort)
	}
	p.putDst(s, d)
}

func (p *part) newPorts() *portSet {
	if n := len(p.freePorts); n > 0 {
		ps := p.freePorts[n-1]
		p.freePorts = p.freePorts[:n-1]
		*ps = portSet{}
		return ps
	}
	return &portSet{}
}

func newPart(cfg *Config, capPer int) *part {
	return &part{cfg: cfg, cap: capPer, srcs6: map[netip.Addr]*source{}, dstsX: map[[2]netip.Addr]*dest{}}
}

func (p *part) getSrc(a netip.Addr) *source {
	if a.Is4() {
		if s, ok := p.srcs4.Get(uint64(flow.AddrU32(a))); ok {
			return *s
		}
		return nil
	}
	return p.srcs6[a]
}

func (p *part) putSrc(s *source) {
	if s.addr.Is4() {
		v, _ := p.srcs4.Upsert(uint64(flow.AddrU32(s.addr)))
		*v = s
	} else {
		p.srcs6[s.addr] = s
	}
	p.nsrc++
}

func pairKey(src, dst netip.Addr) (uint64, bool) {
	if src.Is4() && dst.Is4() {
		return uint64(flow.AddrU32(src))<<32 | uint64(flow.AddrU32(dst)), true
	}
	return 0, false
}

func (p *part) getDst(s *source, a netip.Addr) *dest {
	if k, ok := pairKey(s.addr, a); ok {
		if d, ok := p.dsts4.Get(k); ok {
			return *d
		}
		return nil
	}
	return p.dstsX[[2]netip.Addr{s.addr, a}]
}

// putDst adds d as s's most recently seen destination.
func (p *part) putDst(s *source, d *dest) {
	if k, ok := pairKey(s.addr, d.addr); ok {
		v, _ := p.dsts4.Upsert(k)
		*v = d
	} else {
		p.dstsX[[2]netip.Addr{s.addr, d.addr}] = d
	}
	s.dl.pushBack(d)
	s.ndst++
}

func (p *part) delDst(s *source, d *dest) {
	if k, ok := pairKey(s.addr, d.addr); ok {
		p.dsts4.Delete(k)
	} else {
		delete(p.dstsX, [2]netip.Addr{s.addr, d.addr})
	}
	s.dl.remove(d)
	s.ndst--
	if d.ports != nil {
		p.freePorts = append(p.freePorts, d.ports)
	}
	*d = dest{next: p.freeDst}
	p.freeDst = d
}

func (s *source) targets() []netip.Addr {
	out := make([]netip.Addr, 0, s.ndst)
	for d := s.dl.head; d != nil; d = d.next {
		out = append(out, d.addr)
	}
	return sortedAddrs(out)
}

func (s *source) ports() []uint16 {
	var u portSet
	for d := s.dl.head; d != nil; d = d.next {
		if d.ports != nil {
			for w := range u.bits {
				u.bits[w] |= d.ports.bits[w]
			}
		}
	}
	return u.list()
}

func (p *part) drop(s *source) {
	for d := s.dl.head; d != nil; d = s.dl.head {
		p.delDst(s, d)
	}
	p.lru.remove(s)
	if s.addr.Is4() {
		p.srcs4.Delete(uint64(flow.AddrU32(s.addr)))
	} else {
		delete(p.srcs6, s.addr)
	}
	p.nsrc--
	*s = source{next: p.freeSrc}
	p.freeSrc = s
}

// newSource is a source for a, a recycled one if any.
func (p *part) newSource(a netip.Addr) *source {
	s := p.freeSrc
	if s == nil {
		return &source{addr: a}
	}
	p.freeSrc = s.next
	*s = source{addr: a}
	return s
}

// sweep frees sources that have been quiet for more than T flows; the
// per-flow check already treats them as gone, so this only returns memory.
func (p *part) sweep(total, T uint64) {
	if T == 0 {
		return
	}
	for s := p.lru.head; s != nil && total-s.lastSeen > T; s = p.lru.head {
		p.drop(s)
	}
}

// Intrusive doubly linked lists: O(1) move-to-back without allocation.
type srcList struct{ head, tail *source }

func (l *srcList) pushBack(s *source) {
	s.prev, s.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = s
	} else {
		l.head = s
	}
	l.tail = s
}

func (l *srcList) remove(s *source) {
	if s.prev != nil {
		s.prev.next = s.next
	} else {
		l.head = s.next
	}
	if s.next != nil {
		s.next.prev = s.prev
	} else {
		l.tail = s.prev
	}
	s.prev, s.next = nil, nil
}

func (l *srcList) moveBack(s *source) {
	if l.tail == s {
		return
	}
	l.remove(s)
	l.pushBack(s)
}

type destList struct{ head, tail *dest }

func (l *destList) pushBack(d *dest) {
	d.prev, d.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = d
	} else {
		l.head = d
	}
	l.tail = d
}

func (l *destList) remove(d *dest) {
	if d.prev != nil {
		d.prev.next = d.next
	} else {
		l.head = d.next
	}
	if d.next != nil {
		d.next.prev = d.prev
	} else {
		l.tail = d.prev
	}
	d.prev, d.next = nil, nil
}

func (l *destList) moveBack(d *dest) {
	if l.tail == d {
		return
	}
	l.remove(d)
	l.pushBack(d)
}
