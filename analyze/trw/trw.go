// Package trw is Threshold Random Walk (Jung, Paxson, Berger, Balakrishnan,
// IEEE S&P 2004), a sequential hypothesis test on the outcomes of a
// source's first contacts with destinations, adapted to flow records.
//
// Each first contact of a source with a destination is a success or a
// failure. The likelihood ratio starts at 1 and is multiplied by
// θ1/θ0 for a success and (1-θ1)/(1-θ0) for a failure; the source is
// declared a scanner (H1) when it reaches η1 = β/α and benign (H0) when it
// falls to η0 = (1-β)/(1-α). With the defaults (θ0 0.8, θ1 0.2, α 0.01,
// β 0.99) a failure multiplies by 4, a success by 1/4, η1 = 99 and
// η0 = 1/99: four failures in a row decide "scanner".
//
// Outcome rule for flows (unidirectional records, sorted by end time):
//   - a TCP first contact whose flags include ACK is a success at once:
//     the initiator only sends ACK after the handshake was answered;
//   - any other first contact (TCP SYN-only, SYN+RST, FIN/NULL probes,
//     UDP, ICMP, other protocols) is a success if an answering reverse
//     flow (destination to source) starts within Window of it, in either
//     order in the stream, and a failure otherwise. A reverse flow answers
//     unless it is a refusal: TCP without SYN carrying RST (the RST of a
//     closed port; a SYN-ACK or an established reply answers), or an ICMP
//     error (unreachable, time exceeded, ...). A UDP or other reply answers.
//
// A failure is known only when the stream time (highest flow end seen)
// passes the contact's start plus Window, so pending contacts wait in a
// FIFO bounded by MaxPending; when it is full the oldest is decided early.
// After a benign decision the walk restarts at 1, so a host that turns to
// scanning later is still caught; after a scanner decision the source is
// reported once and no longer tracked. IPv6 flows are tested like IPv4.
package trw

import (
	"net/netip"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/flow"
)

// Config holds the test's parameters; zero fields take the defaults.
type Config struct {
	Theta0, Theta1 float64 // P(success | benign), P(success | scanner)
	Alpha, Beta    float64 // false-positive and detection probabilities
	WindowMS       int64   // how long a reverse flow may lag, ms (10000)
	MaxPending     int     // pending first contacts held (1<<20)
}

// DefaultConfig is the paper's: θ0 0.8, θ1 0.2, α 0.01, β 0.99, 10 s.
func DefaultConfig() Config {
	return Config{Theta0: 0.8, Theta1: 0.2, Alpha: 0.01, Beta: 0.99, WindowMS: 10000, MaxPending: 1 << 20}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Theta0 == 0 {
		c.Theta0 = d.Theta0
	}
	if c.Theta1 == 0 {
		c.Theta1 = d.Theta1
	}
	if c.Alpha == 0 {
		c.Alpha = d.Alpha
	}
	if c.Beta == 0 {
		c.Beta = d.Beta
	}
	if c.WindowMS <= 0 {
		c.WindowMS = d.WindowMS
	}
	if c.MaxPending <= 0 {
		c.MaxPending = d.MaxPending
	}
	return c
}

// Eta1 is the scanner threshold β/α; Eta0 the benign one (1-β)/(1-α).
func (c Config) Eta1() float64 { return c.Beta / c.Alpha }
func (c Config) Eta0() float64 { return (1 - c.Beta) / (1 - c.Alpha) }

// Walk is one source's random walk, exported for the hand-worked test and
// for callers that have their own outcomes.
type Walk struct {
	LR       float64
	Attempts int // outcomes since the walk (re)started
}

// Decision of a step.
type Decision int

const (
	Pending Decision = iota
	Scanner
	Benign
)

// Step applies one outcome and says whether the walk decided.
func (c Config) Step(w *Walk, success bool) Decision {
	if w.LR == 0 {
		w.LR = 1
	}
	w.Attempts++
	if success {
		w.LR *= c.Theta1 / c.Theta0
	} else {
		w.LR *= (1 - c.Theta1) / (1 - c.Theta0)
	}
	switch {
	case w.LR >= c.Eta1():
		return Scanner
	case w.LR <= c.Eta0():
		return Benign
	}
	return Pending
}

type pair struct{ a, b netip.Addr }

type contact struct {
	key      pair
	deadline int64 // stream time when a missing reverse flow means failure
	start    int64
	index    uint64
	rec      flow.Record
	done     bool // answered (success already applied)
}

type source struct {
	walk     Walk
	seen     map[netip.Addr]struct{} // destinations contacted
	decided  bool
	failures int
}

// Detector is fed flows in stream order. Not safe for concurrent use.
type Detector struct {
	cfg  Config
	sink analyze.Sink
	srcs map[netip.Addr]*source
	// lastSeen: latest start of a flow a->b, to answer contacts whose
	// reverse flow ended earlier in the stream. Aged with recent.
	lastSeen map[pair]int64
	recent   []seenAt
	pending  map[pair]int // position in queue
	queue    []contact
	head     int
	index    uint64
	clock    int64
}

type seenAt struct {
	key   pair
	start int64
	clock int64
}

// New makes a detector that reports to sink.
func New(cfg Config, sink analyze.Sink) *Detector {
	return &Detector{cfg: cfg.withDefaults(), sink: sink, srcs: make(map[netip.Addr]*source),
		lastSeen: make(map[pair]int64), pending: make(map[pair]int)}
}

// Add feeds a batch in stream order.
func (d *Detector) Add(b flow.Batch) {
	for i := range b {
		d.index++
		d.one(&b[i])
	}
}

// Flush decides every pending contact as if the stream ran past its
// window: call it at the end of the input.
func (d *Detector) Flush() {
	d.expire(1<<62, false)
}

// Pending is the number of contacts waiting for a reverse flow.
func (d *Detector) Pending() int { return len(d.queue) - d.head }

func (d *Detector) one(r *flow.Record) {
	if r.End > d.clock {
		d.clock = r.End
	}
	d.expire(d.clock, false)
	key := pair{r.Src, r.Dst}
	rev := pair{r.Dst, r.Src}
	// This flow may answer a pending contact of the other side.
	if !answers(r) {
		goto contact
	}
	if i, ok := d.pending[rev]; ok {
		c := &d.queue[i]
		if !c.done && r.Start <= c.start+d.cfg.WindowMS {
			c.done = true
			delete(d.pending, rev)
			d.outcome(c, true)
		}
	}
	if prev, ok := d.lastSeen[key]; !ok || r.Start > prev {
		d.lastSeen[key] = r.Start
		d.recent = append(d.recent, seenAt{key, r.Start, d.clock})
	}
contact:
	s := d.srcs[r.Src]
	if s == nil {
		s = &source{walk: Walk{LR: 1}, seen: make(map[netip.Addr]struct{})}
		d.srcs[r.Src] = s
	}
	if s.decided {
		return
	}
	if _, ok := s.seen[r.Dst]; ok {
		return
	}
	s.seen[r.Dst] = struct{}{}
	c := contact{key: key, start: r.Start, index: d.index, rec: *r, deadline: r.Start + d.cfg.WindowMS}
	if r.Proto == 6 && r.TCPFlags&flow.TCPAck != 0 {
		d.outcome(&c, true)
		return
	}
	if t, ok := d.lastSeen[rev]; ok && t >= r.Start-d.cfg.WindowMS && t <= r.Start+d.cfg.WindowMS {
		d.outcome(&c, true)
		return
	}
	if c.deadline < d.clock {
		// The flow ended after its own window: its reverse, if any,
		// can still come (a long flow), so wait one window of stream time.
		c.deadline = d.clock
	}
	if d.Pending() >= d.cfg.MaxPending {
		d.expire(0, true)
	}
	d.pending[key] = len(d.queue)
	d.queue = append(d.queue, c)
}

// expire decides contacts whose window has passed (or the oldest one when
// force), and ages lastSeen.
func (d *Detector) expire(now int64, force bool) {
	for d.head < len(d.queue) {
		c := &d.queue[d.head]
		if !c.done && !force && c.deadline >= now {
			break
		}
		force = false
		if !c.done {
			delete(d.pending, c.key)
			d.outcome(c, false)
		}
		d.queue[d.head] = contact{}
		d.head++
	}
	if d.head > 1024 && d.head*2 > len(d.queue) {
		n := copy(d.queue, d.queue[d.head:])
		d.queue = d.queue[:n]
		for i := range d.queue {
			if !d.queue[i].done {
				d.pending[d.queue[i].key] = i
			}
		}
		d.head = 0
	}
	k := 0
	for k < len(d.recent) && d.recent[k].clock+2*d.cfg.WindowMS < now {
		e := d.recent[k]
		if t, ok := d.lastSeen[e.key]; ok && t == e.start {
			delete(d.lastSeen, e.key)
		}
		k++
	}
	if k > 0 {
		d.recent = d.recent[k:]
	}
}

func (d *Detector) outcome(c *contact, success bool) {
	s := d.srcs[c.key.a]
	if s == nil || s.decided {
		return
	}
	if !success {
		s.failures++
	}
	switch d.cfg.Step(&s.walk, success) {
	case Scanner:
		s.decided = true
		targets := make([]netip.Addr, 0, 16)
		for a := range s.seen {
			targets = append(targets, a)
		}
		sortAddrs(targets)
		if len(targets) > 64 {
			targets = targets[:64]
		}
		d.sink(analyze.Finding{
			Detector: "trw", Kind: analyze.TRWScan, Src: c.key.a, Dst: c.key.b,
			Time: c.start, Index: c.index, Flow: c.rec,
			Rule: "likelihood ratio >= beta/alpha", Threshold: d.cfg.Eta1(),
			Value: s.walk.LR, Score: s.walk.LR, Attempts: s.walk.Attempts,
			Targets: targets,
		})
		s.seen = nil
	case Benign:
		s.walk = Walk{LR: 1}
	}
}

// answers says whether r, seen as the reverse of a first contact, shows
// the destination accepted it.
func answers(r *flow.Record) bool {
	switch r.Proto {
	case 6:
		return r.TCPFlags&flow.TCPSyn != 0 || r.TCPFlags&flow.TCPRst == 0
	case 1:
		switch r.DstPort >> 8 {
		case 3, 4, 5, 11, 12:
			return false
		}
	case 58:
		return r.DstPort>>8 >= 128
	}
	return true
}
