// Package vscan finds vertical scans, fast or slow: one source trying many
// services (protocol and port) of one destination, most of them refused or
// unanswered. It is Threshold Random Walk (see package trw) applied to
// (destination, service) first contacts of each (source, destination) pair
// instead of to destinations, with a horizon of hours instead of a rate, so
// that nmap -T1 (one probe every 15 s) or a scan spread over an afternoon is
// caught as surely as a fast one.
//
// Outcomes, per first contact of a (source, destination, protocol, port):
//   - TCP whose flags include ACK: answered at once (the handshake completed);
//   - otherwise answered when a reverse flow (destination:port to source)
//     that is not a refusal starts within Window of the contact, refused when
//     the reverse is a refusal (TCP RST without SYN), and unanswered when the
//     stream time passes the contact's start plus Window without either;
//   - a flow that answers a contact of the other side (its source port is a
//     service the destination contacted on this host) is a reply, not a
//     contact; so is a flow from a port below 1024 to one at or above 1024
//     (a server answering), which keeps busy UDP servers out.
//
// UDP to 33434-33534 is traceroute (a new port for every probe, and the
// destination answers the last ones with port unreachable), not counted.
// Only TCP, UDP and SCTP have ports to scan; ICMP and other protocols are
// left to the horizontal detectors. IPv6 is handled like IPv4.
//
// A pair is reported once, when its likelihood ratio reaches η1 and at least
// MinFailed distinct services were refused or unanswered. A pair with no new
// service for Horizon is forgotten.
package vscan

import (
	"cmp"
	"fmt"
	"iter"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/analyze/internal/addrkey"
	"github.com/flowsift/flowsift/analyze/internal/u64map"
	"github.com/flowsift/flowsift/analyze/trw"
	"github.com/flowsift/flowsift/flow"
)

// Kind is the finding kind of this detector.
const Kind analyze.Kind = "vertical-scan"

// Config holds the detector's parameters; zero fields take the defaults.
type Config struct {
	// Walk holds θ0, θ1, α and β of the random walk (trw.DefaultConfig's).
	Walk trw.Config
	// MinFailed is how many distinct services of one destination must
	// have been refused or left unanswered (10).
	MinFailed int
	// WindowMS is how long a reply may lag its contact (30 s: exporters'
	// clocks and flow start times disagree by more than a round trip).
	WindowMS int64
	// HorizonMS is how long a pair is remembered without a new service
	// contact (6 h).
	HorizonMS int64
	// MaxPairs bounds the pairs held; beyond it new pairs are not tracked
	// and counted in Untracked (1<<21).
	MaxPairs int
	// MaxServices bounds the services remembered per pair (4096).
	MaxServices int
}

// PairBytes is what a pair of one service takes in the detector's table,
// table slot included; a memory budget divides by it to bound MaxPairs.
// Measured by BenchmarkBytesPerPair, pairs of one probe: 128 bytes a pair
// among 2^21 (268 MB), 148 among 1.6 M, just past the table's doubling,
// its emptiest. With Go maps it was 144 among 2^21 (and 192 with 32-byte
// keys and a slice of services a pair; 180 at a report's peak, 363 MB for
// 2M pairs).
const PairBytes = 148

// DefaultConfig is the detector's defaults.
func DefaultConfig() Config {
	return Config{Walk: trw.DefaultConfig(), MinFailed: 10, WindowMS: 30_000, HorizonMS: 6 * 3_600_000,
		MaxPairs: 1 << 21, MaxServices: 4096}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	w := c.Walk
	w.Theta0 = cmp.Or(w.Theta0, d.Walk.Theta0)
	w.Theta1 = cmp.Or(w.Theta1, d.Walk.Theta1)
	w.Alpha = cmp.Or(w.Alpha, d.Walk.Alpha)
	w.Beta = cmp.Or(w.Beta, d.Walk.Beta)
	c.Walk = w
	c.MinFailed = analyze.Positive(c.MinFailed, d.MinFailed)
	c.WindowMS = analyze.Positive(c.WindowMS, d.WindowMS)
	c.HorizonMS = analyze.Positive(c.HorizonMS, d.HorizonMS)
	c.MaxPairs = analyze.Positive(c.MaxPairs, d.MaxPairs)
	c.MaxServices = analyze.Positive(c.MaxServices, d.MaxServices)
	return c
}

// Validate refuses negative sizes and an invalid walk.
func (c Config) Validate() error {
	if c.MinFailed < 0 || c.WindowMS < 0 || c.HorizonMS < 0 || c.MaxPairs < 0 || c.MaxServices < 0 {
		return fmt.Errorf("vertical scan: min failed %d, window %d ms, horizon %d ms, max pairs %d, max services %d: none may be negative",
			c.MinFailed, c.WindowMS, c.HorizonMS, c.MaxPairs, c.MaxServices)
	}
	if err := c.Walk.Validate(); err != nil {
		return fmt.Errorf("vertical scan: %w", err)
	}
	return nil
}

// Settings describes the configuration for a report.
func (c Config) Settings() []analyze.Setting {
	c = c.withDefaults()
	return []analyze.Setting{{Name: "vertical scan", Value: fmt.Sprintf(
		"random walk over the services of one destination, likelihood ratio >= %s and >= %d services refused or unanswered; reply window %d ms, horizon %s",
		strconv.FormatFloat(c.Walk.Eta1(), 'g', -1, 64), c.MinFailed, c.WindowMS, time.Duration(c.HorizonMS)*time.Millisecond)}}
}

// pairKey is pointer-free (see addrkey): two lookups per flow hash it.
type pairKey struct{ src, dst addrkey.Addr }

type svcKey struct {
	proto uint8
	port  uint16
}

const (
	stPending = iota
	stAnswered
	stFailed
)

type service struct {
	key   svcKey
	state uint8
	start int64
}

// A pair holds its services in a slice: most pairs see one or two, and a
// map per pair costs more than the scan of a scanner's few hundred. The
// first service is held in the pair itself: background radiation makes
// most pairs, of one probe each, and a slice of one was an allocation
// each. 64 bytes, a size class: the first contact's start is the first
// service's, and of the walk only the ratio is kept (vscan reads no
// attempts count).
type pair struct {
	lr       float64 // the walk's likelihood ratio; 0 before its first step
	svc0     service // the first service; its proto is 0 until it is added
	more     []service
	answered int32 // at most MaxServices each
	failed   int32
	decided  bool
}

// pairRef is a pair's entry in the table, with the latest contact start
// beside the pointer: the sweep, which reads it for every pair held every
// eighth of the horizon, then touches no pair but those it may forget.
type pairRef struct {
	p    *pair
	last int64 // latest contact start
	// queued is one more than the queue position (counted from the
	// start of the stream) of the pair's latest contact queued, 0 if
	// none. Once the queue's head has passed it, every contact of the
	// pair was answered or failed, and nothing of it is pending: the
	// sweep need not read the pair, out of the caches since hours.
	queued uint64
}

// pairTable holds the pairs. Pairs of two IPv4 addresses (plain or
// mapped, keyed alike as addrkey.Of keys them) are keyed by the 64 bits of
// both in an open-addressing table (see u64map): two probes a flow hashed
// 32-byte keys in a Go map before, two or three cache misses each, and the
// sweep now reads the entries in one pass over an array.
type pairTable struct {
	v4 u64map.Map[pairRef]
	v6 map[pairKey]*pairRef
}

func is4(a addrkey.Addr) bool { return a[0] == 0 && a[1]>>32 == 0xffff }

func (k pairKey) is4() (uint64, bool) {
	if is4(k.src) && is4(k.dst) {
		return k.src[1]<<32 | k.dst[1]&0xffffffff, true
	}
	return 0, false
}

func (t *pairTable) len() int { return t.v4.Len() + len(t.v6) }

// get returns k's entry, nil if none. The pointer is valid until the next
// upsert or deleteFunc.
func (t *pairTable) get(k pairKey) *pairRef {
	if k4, ok := k.is4(); ok {
		r, _ := t.v4.Get(k4)
		return r
	}
	return t.v6[k]
}

// upsert returns k's entry, added empty if there was none; the pointer is
// valid as get's.
func (t *pairTable) upsert(k pairKey) *pairRef {
	if k4, ok := k.is4(); ok {
		r, _ := t.v4.Upsert(k4)
		return r
	}
	r := t.v6[k]
	if r == nil {
		r = &pairRef{}
		t.v6[k] = r
	}
	return r
}

// all yields every entry; the loop body must not add to t.
func (t *pairTable) all() iter.Seq[*pairRef] {
	return func(yield func(*pairRef) bool) {
		for _, r := range t.v4.All() {
			if !yield(r) {
				return
			}
		}
		for _, r := range t.v6 {
			if !yield(r) {
				return
			}
		}
	}
}

// deleteFunc forgets the pairs del accepts.
func (t *pairTable) deleteFunc(del func(*pairRef) bool) {
	t.v4.DeleteFunc(func(_ uint64, r *pairRef) bool { return del(r) })
	for k, r := range t.v6 {
		if del(r) {
			delete(t.v6, k)
		}
	}
}

type pending struct {
	key      pairKey
	svc      svcKey
	deadline int64
	index    uint64
	rec      flow.Record
}

// Detector is fed flows in stream order. Not safe for concurrent use.
type Detector struct {
	cfg       Config
	sink      analyze.Sink
	pairs     pairTable
	queue     []pending
	head      int
	base      uint64 // queue position of queue[0], counted from the start
	index     uint64
	clock     int64
	nextSweep int64
	untracked uint64
	// nextPress is the stream time before which a full table is not swept
	// again: with one sweep a new pair, a day of background radiation
	// (5.3 M sources) took hours, the table being full of live pairs.
	nextPress int64
	// shortest is the shortest horizon a full table forced (0: none).
	shortest int64
	presses  int
}

// New makes a detector that reports to sink.
func New(cfg Config, sink analyze.Sink) *Detector {
	return &Detector{cfg: cfg.withDefaults(), sink: sink, pairs: pairTable{v6: map[pairKey]*pairRef{}}}
}

// Untracked is how many contacts were not followed because MaxPairs pairs
// were held.
func (d *Detector) Untracked() uint64 { return d.untracked }

// Add feeds a batch in stream order.
func (d *Detector) Add(b flow.Batch) {
	for i := range b {
		d.index++
		d.one(&b[i])
	}
}

// Flush decides every pending contact: call it at the end of the input.
func (d *Detector) Flush() {
	d.expire(1 << 62)
	if d.untracked > 0 {
		// Said, not silently dropped: a scan among them may be missed.
		slog.Warn("vertical scan: contacts not followed (max pairs or max services reached)",
			"contacts", d.untracked, "max_pairs", d.cfg.MaxPairs, "max_services", d.cfg.MaxServices)
	}
	if d.shortest > 0 {
		// Said too: a scan slower than this horizon may have been missed.
		slog.Warn("vertical scan: max pairs reached; pairs silent for less than the horizon were forgotten",
			"max_pairs", d.cfg.MaxPairs, "horizon", time.Duration(d.cfg.HorizonMS)*time.Millisecond,
			"shortest", time.Duration(d.shortest)*time.Millisecond, "sweeps", d.presses)
	}
}

func hasPorts(p uint8) bool { return p == 6 || p == 17 || p == 132 }

func (d *Detector) one(r *flow.Record) {
	if r.End > d.clock {
		d.clock = r.End
		d.expire(d.clock)
		if d.clock >= d.nextSweep {
			d.sweep()
		}
	}
	if !hasPorts(r.Proto) || r.Src == r.Dst {
		return
	}
	// Is this the reply to a contact of the other side?
	src, dst := addrkey.Of(r.Src), addrkey.Of(r.Dst)
	if rp := d.pairs.get(pairKey{dst, src}); rp != nil {
		if s := rp.p.find(svcKey{r.Proto, r.SrcPort}); s != nil {
			if s.state == stPending && r.Start <= s.start+d.cfg.WindowMS {
				if refuses(r) {
					d.outcome(rp, s, stFailed, r, d.index, true)
				} else {
					d.outcome(rp, s, stAnswered, r, d.index, true)
				}
			}
			return
		}
	}
	if r.SrcPort < 1024 && r.DstPort >= 1024 {
		return // a server's answer to a client whose contact we never saw
	}
	if r.Proto == 17 && r.DstPort >= 33434 && r.DstPort <= 33534 {
		return // traceroute's probes: one port per hop, the last refused by design
	}
	k := pairKey{src, dst}
	e := d.pairs.get(k)
	if e == nil {
		if d.pairs.len() >= d.cfg.MaxPairs {
			if d.clock >= d.nextPress {
				d.press()
			}
			if d.pairs.len() >= d.cfg.MaxPairs {
				d.untracked++
				return
			}
		}
		// A new pair always gets its first service below.
		e = d.pairs.upsert(k)
		e.p = &pair{}
	}
	p := e.p
	sk := svcKey{r.Proto, r.DstPort}
	if p.decided || p.find(sk) != nil {
		return
	}
	if p.services() >= d.cfg.MaxServices {
		d.untracked++
		return
	}
	s := p.add(service{key: sk, state: stPending, start: r.Start})
	e.last = max(e.last, r.Start)
	if r.Proto == 6 && r.TCPFlags&flow.TCPAck != 0 {
		d.outcome(e, s, stAnswered, r, d.index, false)
		return
	}
	e.queued = d.base + uint64(len(d.queue)) + 1
	d.queue = append(d.queue, pending{key: k, svc: sk, deadline: max(r.Start+d.cfg.WindowMS, d.clock), index: d.index, rec: *r})
}

// refuses says whether r, the reverse of a contact, turns it down: a TCP
// reset without SYN (a closed port).
func refuses(r *flow.Record) bool {
	return r.Proto == 6 && r.TCPFlags&flow.TCPRst != 0 && r.TCPFlags&flow.TCPSyn == 0
}

func (d *Detector) expire(now int64) {
	for d.head < len(d.queue) {
		c := &d.queue[d.head]
		if c.deadline >= now {
			break
		}
		if e := d.pairs.get(c.key); e != nil {
			if s := e.p.find(c.svc); s != nil && s.state == stPending {
				d.outcome(e, s, stFailed, &c.rec, c.index, false)
			}
		}
		d.head++
	}
	if d.head > 1024 && d.head*2 > len(d.queue) {
		n := copy(d.queue, d.queue[d.head:])
		clear(d.queue[n:])
		d.queue = d.queue[:n]
		d.base += uint64(d.head)
		d.head = 0
	}
}

// press makes room in a full table: it forgets the pairs silent longest,
// at least a quarter of the table, with a horizon cut short as far as
// needed, never below the reply window (pairs with a contact pending stay).
// Background radiation fills the table with pairs of one probe each; a
// scanner's pair, which gains services, stays. Two passes free a quarter
// of the table, so each new pair costs O(1) on average; the cut depends on
// the pairs' times only, never on map order.
func (d *Detector) press() {
	const buckets = 64
	step := max(d.cfg.HorizonMS/buckets, 1)
	var count [buckets + 1]int
	for e := range d.pairs.all() {
		count[min(max(d.clock-e.last, 0)/step, buckets)]++
	}
	d.presses++
	want, freed, cut := d.pairs.len()/4, count[buckets], int64(buckets)
	for cut > 0 && freed < want && cut*step > d.cfg.WindowMS {
		cut--
		freed += count[cut]
	}
	horizon := max(cut*step, d.cfg.WindowMS)
	n := d.pairs.len()
	d.pairs.deleteFunc(func(e *pairRef) bool { return d.clock-e.last >= horizon && !d.hasPending(e) })
	if d.pairs.len() < n && horizon < d.cfg.HorizonMS && (d.shortest == 0 || horizon < d.shortest) {
		d.shortest = horizon
	}
	// Less than a quarter freed (every pair recent or pending): the next
	// sweep waits for the stream to move on by a reply window, or a burst
	// of new pairs would sweep the table for each of them.
	d.nextPress = d.clock
	if n-d.pairs.len() < want {
		d.nextPress = d.clock + d.cfg.WindowMS
	}
}

// sweep forgets the pairs with no new service for the horizon.
func (d *Detector) sweep() {
	d.pairs.deleteFunc(func(e *pairRef) bool { return e.last+d.cfg.HorizonMS < d.clock && !d.hasPending(e) })
	d.nextSweep = d.clock + d.cfg.HorizonMS/8
}

// find returns the service k of p, nil if p never contacted it. The
// pointer is valid until the next add.
func (p *pair) find(k svcKey) *service {
	if p.svc0.key == k {
		return &p.svc0
	}
	for i := range p.more {
		if p.more[i].key == k {
			return &p.more[i]
		}
	}
	return nil
}

// services is how many services p holds.
func (p *pair) services() int {
	if p.svc0.key.proto == 0 {
		return 0
	}
	return 1 + len(p.more)
}

// add appends s to p's services and returns it, valid until the next add.
func (p *pair) add(s service) *service {
	if p.svc0.key.proto == 0 {
		p.svc0 = s
		return &p.svc0
	}
	p.more = append(p.more, s)
	return &p.more[len(p.more)-1]
}

// hasPending says whether a service of e waits for its reply.
func (d *Detector) hasPending(e *pairRef) bool {
	if e.queued <= d.base+uint64(d.head) {
		return false // all its contacts left the queue, settled
	}
	return e.p.hasPending()
}

func (p *pair) hasPending() bool {
	if p.svc0.key.proto != 0 && p.svc0.state == stPending {
		return true
	}
	for _, s := range p.more {
		if s.state == stPending {
			return true
		}
	}
	return false
}

// outcome settles service s of pair e; rec is the flow that settled it
// (the contact, or the reply when reply is set), the index-th of the stream.
func (d *Detector) outcome(e *pairRef, s *service, state uint8, rec *flow.Record, index uint64, reply bool) {
	p := e.p
	s.state = state
	if p.decided {
		return
	}
	ok := state == stAnswered
	if ok {
		p.answered++
	} else {
		p.failed++
	}
	w := trw.Walk{LR: p.lr}
	dec := d.cfg.Walk.Step(&w, ok)
	p.lr = w.LR
	if dec == trw.Benign {
		p.lr = 1
		return
	}
	if p.lr < d.cfg.Walk.Eta1() || int(p.failed) < d.cfg.MinFailed {
		return
	}
	p.decided = true
	src, dst := rec.Src, rec.Dst
	if reply {
		src, dst = dst, src
	}
	ports := []uint16{p.svc0.key.port}
	for _, s := range p.more {
		ports = append(ports, s.key.port)
	}
	slices.Sort(ports)
	ports = slices.Compact(ports)
	tried := int(p.answered + p.failed)
	d.sink(analyze.Finding{
		Detector: "vscan", Kind: Kind, Src: src, Dst: dst,
		Time: rec.Start, Index: index, Flow: *rec,
		Rule: "services of one destination refused or unanswered", Threshold: float64(d.cfg.MinFailed),
		Value: float64(p.failed), Score: p.lr, Attempts: tried,
		Targets: []netip.Addr{dst}, Ports: ports,
		Note: fmt.Sprintf("%d services of %s tried over %s, %d refused or unanswered, %d answered; likelihood ratio %.3g (threshold %g)",
			tried, dst, span(e.last-p.svc0.start), p.failed, p.answered, p.lr, d.cfg.Walk.Eta1()),
	})
}

func span(ms int64) string {
	return (time.Duration(ms) * time.Millisecond).Round(time.Second).String()
}
