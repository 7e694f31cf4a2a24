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
// Measured by BenchmarkBytesPerPair, pairs of one probe: 105.9 bytes a
// pair among 2^21 (222 MB), 135.0 among 1.6 M, just past the table's
// doubling, its emptiest: the 48-byte slot and the pair's entry in the
// sweep's lists (see aging), 8 bytes and the lists' room to grow. The lists
// may hold two entries a pair before they are rebuilt, hence 8 more. With
// a 32-byte slot pointing to a 64-byte pair it was 128 and 148; with Go
// maps 144 among 2^21 (and 192 with 32-byte keys and a slice of services
// a pair; 180 at a report's peak, 363 MB for 2M pairs). A pair's services
// after the first take 16 bytes each and a slice header more.
const PairBytes = 143

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

// service is one of a pair's services after its first.
type service struct {
	start int64
	key   svcKey
	state uint8
}

// A pair is held in the table's slot itself, with its first service:
// background radiation makes most pairs, of one probe each, and a pair
// behind a pointer cost each flow a second cache miss after the slot's
// (twice a flow: the reply test reads the reverse pair). The services
// after the first, of scanners and of clients that use several, live in
// the table's side list (more). 40 bytes, a 48-byte slot with its key:
// of the walk only the ratio is kept (vscan reads no attempts count).
type pair struct {
	lr     float64 // the walk's likelihood ratio; 0 before its first step
	last   int64   // latest contact start
	start0 int64   // the first service's start
	// more is one more than the index of the pair's other services in
	// the table's side list, 0 if it has none.
	more             uint32
	answered, failed int32 // at most MaxServices each
	port0            uint16
	proto0           uint8 // 0 until the first service is added
	// bits holds the first service's state (stateMask) and decided:
	// a byte of its own would make the slot 56 bytes.
	bits uint8
}

const (
	stateMask   = 3
	decidedFlag = 4
)

func (p *pair) decided() bool { return p.bits&decidedFlag != 0 }

// first and noService are the places find returns besides an index in
// the pair's side list.
const (
	first     = -1
	noService = -2
)

// pairTable holds the pairs. Pairs of two IPv4 addresses (plain or
// mapped, keyed alike as addrkey.Of keys them) are keyed by the 64 bits of
// both in an open-addressing table (see u64map): two probes a flow hashed
// 32-byte keys in a Go map before, two or three cache misses each, and the
// sweep now reads the entries in one pass over an array.
type pairTable struct {
	v4 u64map.Map[pair]
	v6 map[pairKey]*pair
	// more holds the services after the first of the pairs that have
	// some, by pair.more; free lists the entries forgotten pairs left.
	more [][]service
	free []uint32
}

func is4(a addrkey.Addr) bool { return a[0] == 0 && a[1]>>32 == 0xffff }

func (k pairKey) is4() (uint64, bool) {
	if is4(k.src) && is4(k.dst) {
		return k.src[1]<<32 | k.dst[1]&0xffffffff, true
	}
	return 0, false
}

// key4 returns the key of (src, dst) in the IPv4 table, if it goes there.
// Plain IPv4 addresses, nearly every flow's, skip the 16-byte form.
func key4(src, dst netip.Addr) (uint64, bool) {
	if src.Is4() && dst.Is4() {
		return uint64(flow.AddrU32(src))<<32 | uint64(flow.AddrU32(dst)), true
	}
	return pairKey{addrkey.Of(src), addrkey.Of(dst)}.is4()
}

func (t *pairTable) len() int { return t.v4.Len() + len(t.v6) }

// get returns k's pair, nil if none. The pointer is valid until the next
// upsert or forget.
func (t *pairTable) get(src, dst netip.Addr) *pair {
	if k4, ok := key4(src, dst); ok {
		p, _ := t.v4.Get(k4)
		return p
	}
	return t.v6[pairKey{addrkey.Of(src), addrkey.Of(dst)}]
}

// upsert returns k's pair, added empty if there was none; the pointer is
// valid as get's.
func (t *pairTable) upsert(src, dst netip.Addr) *pair {
	if k4, ok := key4(src, dst); ok {
		p, _ := t.v4.Upsert(k4)
		return p
	}
	k := pairKey{addrkey.Of(src), addrkey.Of(dst)}
	p := t.v6[k]
	if p == nil {
		p = &pair{}
		t.v6[k] = p
	}
	return p
}

// all yields every pair; the loop body must not add to t.
func (t *pairTable) all() iter.Seq[*pair] {
	return func(yield func(*pair) bool) {
		for _, p := range t.v4.All() {
			if !yield(p) {
				return
			}
		}
		for _, p := range t.v6 {
			if !yield(p) {
				return
			}
		}
	}
}

// forget drops the pairs whose latest contact started before cut and
// that wait for no reply, and their other services: the press's way (and
// the sweep's before aging), which reads every slot of the table and
// keeps most, so the start is tested in the loop's own function (a call
// more a slot was a fifth of the detector's time). The sweep forgets
// through aging, one pair at a time: the table then keeps its size, as
// DeleteFunc keeps it unless it emptied to 3/16.
func (t *pairTable) forget(cut int64) {
	t.v4.DeleteFunc(func(_ uint64, p *pair) bool { return p.last < cut && t.drop(p) })
	for k, p := range t.v6 {
		if p.last < cut && t.drop(p) {
			delete(t.v6, k)
		}
	}
}

// drop says whether p, silent long enough, may go (no service of it
// waits for a reply), and if so gives back its other services.
func (t *pairTable) drop(p *pair) bool {
	if t.hasPending(p) {
		return false
	}
	if p.more != 0 {
		t.more[p.more-1] = nil
		t.free = append(t.free, p.more-1)
	}
	return true
}

// others returns p's services after the first.
func (t *pairTable) others(p *pair) []service {
	if p.more == 0 {
		return nil
	}
	return t.more[p.more-1]
}

// find returns where p holds service k: first, an index in others(p), or
// noService if p never contacted it.
func (t *pairTable) find(p *pair, k svcKey) int {
	if p.proto0 == k.proto && p.port0 == k.port {
		return first
	}
	for i, s := range t.others(p) {
		if s.key == k {
			return i
		}
	}
	return noService
}

// services is how many services p holds.
func (t *pairTable) services(p *pair) int {
	if p.proto0 == 0 {
		return 0
	}
	return 1 + len(t.others(p))
}

// add gives p service k, pending, contacted at start, and returns where
// find would.
func (t *pairTable) add(p *pair, k svcKey, start int64) int {
	if p.proto0 == 0 {
		p.proto0, p.port0, p.start0 = k.proto, k.port, start
		p.bits &^= stateMask // stPending
		return first
	}
	if p.more == 0 {
		if n := len(t.free); n > 0 {
			p.more = t.free[n-1] + 1
			t.free = t.free[:n-1]
		} else {
			t.more = append(t.more, nil)
			p.more = uint32(len(t.more))
		}
	}
	i := p.more - 1
	t.more[i] = append(t.more[i], service{start: start, key: k, state: stPending})
	return len(t.more[i]) - 1
}

// state and start are those of p's service at i (first or an index).
func (t *pairTable) state(p *pair, i int) uint8 {
	if i == first {
		return p.bits & stateMask
	}
	return t.more[p.more-1][i].state
}

func (t *pairTable) start(p *pair, i int) int64 {
	if i == first {
		return p.start0
	}
	return t.more[p.more-1][i].start
}

func (t *pairTable) setState(p *pair, i int, st uint8) {
	if i == first {
		p.bits = p.bits&^stateMask | st
		return
	}
	t.more[p.more-1][i].state = st
}

// hasPending says whether a service of p waits for its reply.
func (t *pairTable) hasPending(p *pair) bool {
	if p.proto0 != 0 && p.bits&stateMask == stPending {
		return true
	}
	for _, s := range t.others(p) {
		if s.state == stPending {
			return true
		}
	}
	return false
}

// contact is a first contact of a service waiting for its reply, or the
// flow that settles one: of the flow only its brief is kept, and a
// finding's Flow holds only those fields.
type contact struct {
	analyze.Brief
	deadline int64
	index    uint64
}

func contactOf(r *flow.Record, index uint64) contact {
	return contact{Brief: analyze.BriefOf(r), index: index}
}

// Detector is fed flows in stream order. Not safe for concurrent use.
type Detector struct {
	cfg       Config
	sink      analyze.Sink
	pairs     pairTable
	queue     []contact
	head      int
	index     uint64
	clock     int64
	nextSweep int64
	aging     aging // the IPv4 pairs by their latest contact, for the sweep
	sweepAll  bool  // sweep by reading every pair (tests compare the two)
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
	cfg = cfg.withDefaults()
	return &Detector{cfg: cfg, sink: sink, pairs: pairTable{v6: map[pairKey]*pair{}}, aging: newAging(cfg.HorizonMS)}
}

// Untracked is how many contacts were not followed because MaxPairs pairs
// were held.
func (d *Detector) Untracked() uint64 { return d.untracked }

// lookAhead is how many flows ahead Add prefetches the slots of a flow's
// pair and of its reverse (see u64map.Prefetch).
const lookAhead = 16

// Add feeds a batch in stream order.
func (d *Detector) Add(b flow.Batch) {
	for i := range b {
		if j := i + lookAhead; j < len(b) {
			if r := &b[j]; hasPorts(r.Proto) && r.Src.Is4() && r.Dst.Is4() {
				// key4's keys of the pair and of its reverse.
				s, t := uint64(flow.AddrU32(r.Src)), uint64(flow.AddrU32(r.Dst))
				d.pairs.v4.Prefetch(t<<32 | s)
				d.pairs.v4.Prefetch(s<<32 | t)
			}
		}
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
	if rp := d.pairs.get(r.Dst, r.Src); rp != nil {
		if i := d.pairs.find(rp, svcKey{r.Proto, r.SrcPort}); i != noService {
			if d.pairs.state(rp, i) == stPending && r.Start <= d.pairs.start(rp, i)+d.cfg.WindowMS {
				c := contactOf(r, d.index)
				if refuses(r) {
					d.outcome(rp, i, stFailed, &c, true)
				} else {
					d.outcome(rp, i, stAnswered, &c, true)
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
	p := d.pairs.get(r.Src, r.Dst)
	if p == nil {
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
		p = d.pairs.upsert(r.Src, r.Dst)
	}
	sk := svcKey{r.Proto, r.DstPort}
	if p.decided() || d.pairs.find(p, sk) != noService {
		return
	}
	if d.pairs.services(p) >= d.cfg.MaxServices {
		d.untracked++
		return
	}
	fresh, was := p.proto0 == 0, p.last
	i := d.pairs.add(p, sk, r.Start)
	p.last = max(p.last, r.Start)
	if k4, ok := key4(r.Src, r.Dst); ok {
		d.aging.note(k4, p.last, was, fresh)
		d.aging.bounded(&d.pairs)
	}
	c := contactOf(r, d.index)
	if r.Proto == 6 && r.TCPFlags&flow.TCPAck != 0 {
		d.outcome(p, i, stAnswered, &c, false)
		return
	}
	c.deadline = max(r.Start+d.cfg.WindowMS, d.clock)
	d.queue = append(d.queue, c)
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
		if p := d.pairs.get(c.Src, c.Dst); p != nil {
			if i := d.pairs.find(p, svcKey{c.Proto, c.DstPort}); i != noService && d.pairs.state(p, i) == stPending {
				d.outcome(p, i, stFailed, c, false)
			}
		}
		d.head++
	}
	if d.head > 1024 && d.head*2 > len(d.queue) {
		n := copy(d.queue, d.queue[d.head:])
		clear(d.queue[n:])
		d.queue = d.queue[:n]
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
	for p := range d.pairs.all() {
		count[min(max(d.clock-p.last, 0)/step, buckets)]++
	}
	d.presses++
	want, freed, cut := d.pairs.len()/4, count[buckets], int64(buckets)
	for cut > 0 && freed < want && cut*step > d.cfg.WindowMS {
		cut--
		freed += count[cut]
	}
	horizon := max(cut*step, d.cfg.WindowMS)
	n := d.pairs.len()
	d.pairs.forget(d.clock - horizon + 1) // silent for horizon or longer
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
	cut := d.clock - d.cfg.HorizonMS
	if d.sweepAll {
		d.pairs.forget(cut)
		d.nextSweep = d.clock + d.cfg.HorizonMS/8
		return
	}
	d.aging.sweep(&d.pairs, cut)
	for k, p := range d.pairs.v6 {
		if p.last < cut && d.pairs.drop(p) {
			delete(d.pairs.v6, k)
		}
	}
	d.nextSweep = d.clock + d.cfg.HorizonMS/8
}

// outcome settles service i of pair p; c is the flow that settled it (the
// contact, or the reply when reply is set).
func (d *Detector) outcome(p *pair, i int, state uint8, c *contact, reply bool) {
	d.pairs.setState(p, i, state)
	if p.decided() {
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
	p.bits |= decidedFlag
	src, dst := c.Src, c.Dst
	if reply {
		src, dst = dst, src
	}
	ports := []uint16{p.port0}
	for _, s := range d.pairs.others(p) {
		ports = append(ports, s.key.port)
	}
	slices.Sort(ports)
	ports = slices.Compact(ports)
	tried := int(p.answered + p.failed)
	d.sink(analyze.Finding{
		Detector: "vscan", Kind: Kind, Src: src, Dst: dst,
		Time: c.Start, Index: c.index, Flow: c.Record(),
		Rule: "services of one destination refused or unanswered", Threshold: float64(d.cfg.MinFailed),
		Value: float64(p.failed), Score: p.lr, Attempts: tried,
		Targets: []netip.Addr{dst}, Ports: ports,
		Note: fmt.Sprintf("%d services of %s tried over %s, %d refused or unanswered, %d answered; likelihood ratio %.3g (threshold %g)",
			tried, dst, span(p.last-p.start0), p.failed, p.answered, p.lr, d.cfg.Walk.Eta1()),
	})
}

func span(ms int64) string {
	return (time.Duration(ms) * time.Millisecond).Round(time.Second).String()
}
