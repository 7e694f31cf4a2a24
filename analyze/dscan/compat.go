package dscan

import (
	"net/netip"
	"slices"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/flow"
)

// Compat is flow-dscan 0.68's engine with every quirk kept, so that its
// alerts come on exactly the same flows as the real tool's:
//   - the ager walks the 65536 hash buckets incrementally with a work
//     budget, and runs only on flows that created a source or added a
//     destination;
//   - depth is 8 bits;
//   - a suppress entry suppresses all traffic of its address whatever its
//     protocol and ports, and the .dst list is looked up in the bucket of
//     the flow's source;
//   - a reported source is ignored until the ager deletes its record.
type Compat struct {
	cfg     Config
	onEvent func(Event)

	total   uint64
	buckets [nBuckets]*crec
	agerPos int

	srcSup, dstSup map[uint32]bool
}

const nBuckets = 65536

// crec is one source's record.
type crec struct {
	ip    uint32
	depth uint8 // 8 bits in 0.68: -D 256 never fires
	flags uint8
	next  *crec
	dsts  []cdst
}

type cdst struct {
	ip    uint32
	seen  uint32 // 32-bit copy of total when last touched
	ports *portSet
}

// portSet is a bitmap of destination ports below 1024.
type portSet struct {
	bits [16]uint64
	n    int
}

func (p *portSet) add(port uint16) {
	w, b := port/64, uint64(1)<<(port%64)
	if p.bits[w]&b == 0 {
		p.bits[w] |= b
		p.n++
	}
}

func (p *portSet) list() []uint16 {
	if p == nil {
		return nil
	}
	out := make([]uint16, 0, p.n)
	for w, bits := range p.bits {
		for b := 0; b < 64; b++ {
			if bits&(1<<b) != 0 {
				out = append(out, uint16(w*64+b))
			}
		}
	}
	return out
}

// Flags of a source record.
const (
	FlagHostScan = 1
	FlagPortScan = 2
)

// EventKind says what an Event is.
type EventKind int

const (
	EvFinding   EventKind = iota // Finding is set
	EvAgerReset                  // the ager completed a pass ("ager: reset hash run")
)

// Event is what the engines report, in stream order: findings, and the
// ager's end-of-pass message compat output needs.
type Event struct {
	Kind    EventKind
	Finding analyze.Finding
}

// Bucket is flow-dscan's hash of a source address.
func Bucket(ip uint32) int { return int((ip >> 16) ^ (ip & 0xFFFF)) }

// NewCompat returns a compat engine. onEvent receives findings and ager
// messages in stream order; it may be nil.
func NewCompat(cfg Config, onEvent func(Event)) *Compat {
	c := &Compat{cfg: cfg, onEvent: onEvent, srcSup: map[uint32]bool{}, dstSup: map[uint32]bool{}}
	if cfg.Suppress != nil {
		for _, e := range cfg.Suppress.Src.entries() {
			c.srcSup[flow.AddrU32(e.Prefix.Addr())] = true
		}
		for _, e := range cfg.Suppress.Dst.entries() {
			c.dstSup[flow.AddrU32(e.Prefix.Addr())] = true
		}
	}
	return c
}

func (l *List) entries() []Entry {
	if l == nil {
		return nil
	}
	return l.Entries
}

// Total is the number of flows read so far.
func (c *Compat) Total() uint64 { return c.total }

// Process runs a batch through the engine.
func (c *Compat) Process(b flow.Batch) {
	for i := range b {
		c.flow(&b[i])
	}
}

func (c *Compat) emit(kind analyze.Kind, r *flow.Record, rule string, thr, val float64, dst netip.Addr, targets []netip.Addr, ports []uint16) {
	if c.onEvent == nil {
		return
	}
	c.onEvent(Event{Kind: EvFinding, Finding: analyze.Finding{
		Detector: "dscan", Kind: kind, Src: r.Src, Dst: dst, Time: r.Start, Index: c.total, Flow: *r,
		Rule: rule, Threshold: thr, Value: val, Targets: targets, Ports: ports,
	}})
}

func (c *Compat) flow(r *flow.Record) {
	c.total++
	if c.cfg.filtered(r) {
		return
	}
	src, dst := flow.AddrU32(r.Src), flow.AddrU32(r.Dst)
	if len(c.srcSup) > 0 && c.srcSup[src] {
		return
	}
	// 0.68 looks .dst entries up in the source's bucket: an entry works
	// only when the destination shares that bucket.
	if len(c.dstSup) > 0 && c.dstSup[dst] && Bucket(dst) == Bucket(src) {
		return
	}
	c.cfg.triggers(r, func(k int) {
		c.emit(trigKinds[k], r, trigRules[k], trigThreshold(&c.cfg, k), trigValue(r, k), r.Dst, nil, nil)
	})

	total32 := uint32(c.total)
	bkt := Bucket(src)
	var rec *crec
	for p := c.buckets[bkt]; p != nil; p = p.next {
		if p.ip == src {
			rec = p
			break
		}
	}
	switch {
	case rec == nil:
		rec = &crec{ip: src, depth: 1, next: c.buckets[bkt]}
		d := cdst{ip: dst, seen: total32}
		if r.DstPort < 1024 {
			d.ports = &portSet{}
			d.ports.add(r.DstPort)
		}
		rec.dsts = append(rec.dsts, d)
		c.buckets[bkt] = rec
	case rec.flags != 0:
		return
	default:
		for i := range rec.dsts {
			d := &rec.dsts[i]
			if d.ip != dst {
				continue
			}
			d.seen = total32
			if r.DstPort < 1024 {
				if d.ports == nil {
					d.ports = &portSet{}
				}
				d.ports.add(r.DstPort)
				if d.ports.n >= c.cfg.PortTrigger {
					ports := d.ports.list()
					c.emit(analyze.PortScan, r, "ports of one destination >= S", float64(c.cfg.PortTrigger), float64(d.ports.n), r.Dst, []netip.Addr{r.Dst}, ports)
					d.ports = nil
					rec.flags |= FlagPortScan
				}
			}
			return
		}
		if int(rec.depth) >= c.cfg.Depth {
			targets := make([]netip.Addr, len(rec.dsts))
			for i, d := range rec.dsts {
				targets[i] = flow.AddrFromU32(d.ip)
			}
			c.emit(analyze.HostScan, r, "destinations >= D", float64(c.cfg.Depth), float64(len(rec.dsts)+1), r.Dst, sortedAddrs(targets), unionPorts(rec.dsts))
			rec.depth = 0
			rec.flags |= FlagHostScan
			rec.dsts = nil
		} else {
			d := cdst{ip: dst, seen: total32}
			if r.DstPort < 1024 {
				d.ports = &portSet{}
				d.ports.add(r.DstPort)
			}
			rec.dsts = append(rec.dsts, d)
			rec.depth++
		}
	}
	if c.cfg.AgerTimeout != 0 && c.total%1000 == 0 {
		c.ager()
	}
}

// ager is one incremental step of 0.68's ager: walk buckets from where the
// last step stopped until the work budget is spent. The bucket where the
// budget runs out is walked again by the next step.
func (c *Compat) ager() {
	total32 := uint32(c.total)
	timeout := uint32(c.cfg.AgerTimeout)
	work := 0
	for b := c.agerPos; b < nBuckets; b++ {
		var prev *crec
		for p := c.buckets[b]; p != nil; {
			work += 2
			keep := p.dsts[:0]
			for _, d := range p.dsts {
				work++
				if total32-d.seen > timeout {
					p.depth--
					continue
				}
				keep = append(keep, d)
			}
			clear(p.dsts[len(keep):])
			p.dsts = keep
			next := p.next
			if p.depth == 0 {
				if prev == nil {
					c.buckets[b] = next
				} else {
					prev.next = next
				}
			} else {
				prev = p
			}
			p = next
		}
		work++
		if work > 500 {
			c.agerPos = b
			return
		}
	}
	c.agerPos = 0
	if c.onEvent != nil {
		c.onEvent(Event{Kind: EvAgerReset})
	}
}

func sortedAddrs(a []netip.Addr) []netip.Addr {
	slices.SortFunc(a, func(x, y netip.Addr) int { return x.Compare(y) })
	return slices.Compact(a)
}

func unionPorts(ds []cdst) []uint16 {
	var u portSet
	for _, d := range ds {
		if d.ports != nil {
			for w := range u.bits {
				u.bits[w] |= d.ports.bits[w]
			}
		}
	}
	return u.list()
}

var (
	trigKinds = [3]analyze.Kind{analyze.ExcessiveOctets, analyze.ExcessivePkts, analyze.ExcessiveTime}
	trigRules = [3]string{"octets > O", "packets > P", "duration ms > T"}
)

func trigThreshold(c *Config, k int) float64 {
	switch k {
	case trigOctets:
		return float64(c.Octets)
	case trigPackets:
		return float64(c.Packets)
	}
	return float64(c.Time)
}

func trigValue(r *flow.Record, k int) float64 {
	switch k {
	case trigOctets:
		return float64(r.Octets)
	case trigPackets:
		return float64(r.Packets)
	}
	return float64(r.Last - r.First)
}
