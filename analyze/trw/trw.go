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
//   - only first contacts count: the first flow of a (source, destination)
//     pair. If the destination already sent a flow to the source, this one
//     answers it: a success when it answers, nothing when it refuses (see
//     below), and nothing at all with InitiatedOnly (the paper's view: only
//     connections a host initiates; flows cannot always tell);
//   - a TCP first contact whose flags include ACK is a success at once:
//     the initiator only sends ACK after the handshake was answered;
//   - any other first contact (TCP SYN-only, SYN+RST, FIN/NULL probes,
//     UDP, ICMP, other protocols) is a success if an answering reverse
//     flow (destination to source) starting within Window of it comes
//     before the stream time passes its start + Window, and a failure
//     otherwise. A reverse flow answers unless it is a refusal: TCP
//     carrying RST without SYN (a closed port), or an ICMP error
//     (unreachable, time exceeded, ...). A UDP or other reply answers.
//
// A failure is known only when the stream time (highest flow end seen)
// passes the contact's start plus Window, so pending contacts wait in a
// FIFO bounded by MaxPending; when it is full the oldest is decided early.
// After a benign decision the walk restarts at 1, so a host that turns to
// scanning later is still caught; after a scanner decision the source is
// reported once and no longer tracked. IPv6 flows are tested like IPv4.
//
// State ages with stream time, so that memory follows the traffic of the
// last Horizon (default a day), not the whole archive, and months of
// sporadic contacts do not add up to one walk:
//   - a pair (either direction) that carried no flow for Horizon is
//     forgotten: its next flow is a first contact again;
//   - a source that sent no flow for Horizon is forgotten, decided or not:
//     its walk ends undecided, and a scanner that comes back after such a
//     silence is tested, and can be reported, afresh;
//   - a walk that has not decided within Horizon restarts at 1 with the
//     first contact that starts more than Horizon after the walk's first
//     one: the test asks whether a source's first contacts fail as a
//     scanner's do within a day, not over a month.
//
// Forgetting happens in sweeps every half Horizon of stream time, so a
// pair or source is dropped between Horizon and 1.5 Horizon after its last
// flow. Pending contacts are never dropped (they wait seconds, not a day).
package trw

import (
	"cmp"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"unsafe"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/flow"
)

// Config holds the test's parameters; zero fields take the defaults.
type Config struct {
	Theta0, Theta1 float64 // P(success | benign), P(success | scanner)
	Alpha, Beta    float64 // false-positive and detection probabilities
	WindowMS       int64   // how long a reverse flow may lag, ms (10000)
	MaxPending     int     // pending first contacts held (1<<20)
	// InitiatedOnly ignores a source's first flow to a destination that
	// spoke to it first. By default such an answer counts as a successful
	// first contact: flows do not say who initiated, and a host that
	// answers peers is not scanning them.
	InitiatedOnly bool
	// HorizonMS is how long, in stream time, a silent pair or source and
	// an undecided walk are kept (see the package doc); 0 = DefaultHorizon,
	// negative = forever (state then grows with the whole archive).
	HorizonMS int64
	// MaxBytes bounds the detector's state in memory (0 = none): when the
	// pairs and sources held outgrow it, those silent longest are moved
	// to temporary files in TempDir ("" = the system's), down to half of
	// it, and found there again when they come back (see cold.go): the
	// outcome is that of a run without the bound. Should the files fail,
	// the state is forgotten instead, as if the horizon were shorter
	// (see Shed).
	MaxBytes int64
	TempDir  string
}

// DefaultHorizon is a day: longer than any scan the detectors are meant
// to see as one (flow-dscan forgets after its -t flows, the episodes
// split after an hour of silence), short enough that a month's state is a
// day's.
const DefaultHorizon = 24 * 3600_000

// DefaultConfig is the paper's: θ0 0.8, θ1 0.2, α 0.01, β 0.99, 10 s;
// state ages after a day.
func DefaultConfig() Config {
	return Config{Theta0: 0.8, Theta1: 0.2, Alpha: 0.01, Beta: 0.99, WindowMS: 10000, MaxPending: 1 << 20, HorizonMS: DefaultHorizon}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	c.Theta0 = cmp.Or(c.Theta0, d.Theta0)
	c.Theta1 = cmp.Or(c.Theta1, d.Theta1)
	c.Alpha = cmp.Or(c.Alpha, d.Alpha)
	c.Beta = cmp.Or(c.Beta, d.Beta)
	c.WindowMS = analyze.Positive(c.WindowMS, d.WindowMS)
	c.MaxPending = analyze.Positive(c.MaxPending, d.MaxPending)
	c.HorizonMS = cmp.Or(c.HorizonMS, d.HorizonMS)
	return c
}

// maxPending keeps the queue far shorter than the positions a pair can
// name (posSpan): the queue holds at most about twice the pending
// contacts.
const maxPending = posSpan / 8

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
	w.LR = cmp.Or(w.LR, 1)
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

// contact is a first contact waiting for its answer, or one decided at
// once. Of its flow only the brief is kept, and a finding's Flow holds
// only those fields.
type contact struct {
	analyze.Brief
	src      *source // of Brief.Src
	deadline int64   // stream time after which a missing answer is a failure
	index    uint64
	done     bool // answered or decided
}

func contactOf(s *source, r *flow.Record, index uint64) contact {
	return contact{Brief: analyze.BriefOf(r), src: s, index: index}
}

type source struct {
	walk     Walk
	contacts int      // distinct destinations contacted
	targets  evidence // the first 64 of them
	decided  bool
	last     int64 // stream time of its last flow
	started  int64 // start of the first contact the walk counts since it (re)started
	pending  int32 // its contacts in the queue: a source with any stays in memory
}

// Detector is fed flows in stream order. Not safe for concurrent use.
type Detector struct {
	cfg  Config
	sink analyze.Sink
	srcs addrMap[*source]
	// seen holds every pair that carried a flow, with the queue position
	// of each direction's contact while that is pending: one lookup
	// serves the first-contact test, the reply test and the answer. It
	// grows with the distinct pairs of the run.
	seen  pairTable
	queue []contact
	head  int   // first undecided entry of queue
	base  int64 // absolute position of queue[0]
	index uint64
	clock int64
	// nextSweep is the stream time of the next aging sweep (0: none yet).
	nextSweep int64
	// Forgotten counts what the sweeps dropped.
	forgotPairs, forgotSources uint64
	// shed is the shortest horizon MaxBytes imposed (0: none), and
	// sheds how many times.
	shed  int64
	sheds int
	// cold holds what MaxBytes evicted (nil: nothing yet, or the files
	// failed: coldBroken); evictions counts the evictions, evictH is the
	// shortest age they evicted at.
	cold       *coldStore
	coldBroken bool
	evictions  int
	evictH     int64
}

// New makes a detector that reports to sink.
func New(cfg Config, sink analyze.Sink) *Detector {
	cfg = cfg.withDefaults()
	return &Detector{cfg: cfg, sink: sink, srcs: newAddrMap[*source](), seen: newPairTable()}
}

// lookAhead is how many flows ahead Add prefetches the slots of the pair
// and source tables (see u64map.Prefetch).
const lookAhead = 16

// Add feeds a batch in stream order.
func (d *Detector) Add(b flow.Batch) {
	for i := range b {
		if j := i + lookAhead; j < len(b) && b[j].Src.Is4() && b[j].Dst.Is4() {
			k, _ := key4(b[j].Src, b[j].Dst)
			d.seen.v4.Prefetch(k)
			d.srcs.Prefetch(b[j].Src)
			if d.cold != nil {
				d.cold.prefetch(k, b[j].Src)
			}
		}
		d.index++
		d.one(&b[i])
	}
	if d.cfg.MaxBytes > 0 && d.memBytes() > d.cfg.MaxBytes {
		d.shedTo(d.cfg.MaxBytes / 2)
	}
}

// sourceBytes is what a source held costs: its record, its first targets
// and its map entry. BenchmarkBytesPerSource, sources of three targets
// each: 160 bytes (208 when the targets were netip.Addr, where the
// estimate had been 184, measured on a day of background radiation).
const sourceBytes = 160

// memBytes estimates the detector's state: the pair table's slots, the
// other pairs' map entries, the sources, the queue, and the cold store's
// filters and block indexes.
func (d *Detector) memBytes() int64 {
	n := int64(d.seen.v4.Slots())*24 + int64(len(d.seen.v6))*120 + int64(d.srcs.Len())*sourceBytes +
		int64(cap(d.queue))*int64(unsafe.Sizeof(contact{}))
	if d.cold != nil {
		n += d.cold.memBytes()
	}
	return n
}

// shedTo evicts the pairs and sources silent longest until the state is
// about target bytes: the cut is the age (to the minute) at which what is
// older makes up the excess. It forgets them instead when the cold store
// failed, or when what it keeps in memory (the filters) leaves the state
// above MaxBytes.
func (d *Detector) shedTo(target int64) {
	now := minuteOf(d.clock)
	ages := map[uint32]int64{} // age in minutes -> bytes
	for _, st := range d.seen.v4.All() {
		ages[now-min(st.min, now)] += 24 * 4 / 3 // slots are at most 3/4 full
	}
	for _, st := range d.seen.v6 {
		ages[now-min(st.min, now)] += 120
	}
	for _, s := range d.srcs.All() {
		ages[now-min(minuteOf(s.last), now)] += sourceBytes
	}
	keys := slices.Sorted(maps.Keys(ages))
	excess := d.memBytes() - target
	cut := uint32(0) // forget what is at least cut minutes old
	for i := len(keys) - 1; i >= 0 && excess > 0; i-- {
		excess -= ages[keys[i]]
		cut = keys[i]
	}
	if cut == 0 {
		cut = 1 // not the last minute's: they are what is being counted
	}
	h := int64(cut) * 60_000
	if !d.coldBroken {
		if err := d.evict(d.clock - h); err != nil {
			d.coldFail(err)
		} else {
			d.evictions++
			if d.evictH == 0 || h < d.evictH {
				d.evictH = h
			}
			if d.memBytes() <= d.cfg.MaxBytes {
				return
			}
		}
	}
	d.forget(d.clock - h)
	// A sweep keeps the pair table's size for the pairs to come; a shed
	// is for memory, which only a smaller table gives back.
	d.seen.v4.Shrink()
	d.sheds++
	if d.shed == 0 || h < d.shed {
		d.shed = h
	}
}

// Shed is the shortest horizon, in ms, that MaxBytes imposed and how many
// times state was forgotten early (0, 0: it never did).
func (d *Detector) Shed() (horizonMS int64, times int) { return d.shed, d.sheds }

// Flush decides every pending contact as if the stream ran past its
// window: call it at the end of the input.
func (d *Detector) Flush() {
	d.expire(1<<62, false)
	if d.cold != nil {
		for _, t := range d.cold.tables() {
			slog.Debug("trw: state evicted to temporary files", "table", t.name, "evictions", d.evictions, "bytes", t.written,
				"merges", t.merges, "filter rebuilds", t.rebuilds, "found", t.found, "aged", t.aged, "runs dropped", t.dropped)
		}
		d.cold.close()
	}
}

// Pending is the number of contacts waiting for a reverse flow.
func (d *Detector) Pending() int { return len(d.queue) - d.head }

func (d *Detector) one(r *flow.Record) {
	if r.End > d.clock {
		d.clock = r.End
		d.expire(d.clock, false)
		if d.cfg.HorizonMS > 0 && d.clock >= d.nextSweep {
			if d.nextSweep != 0 {
				d.sweep()
			}
			// Every half horizon: a sweep visits every pair, and at a
			// quarter the sweeps took 0.15 of 4.3 CPU s of a report over
			// three days of a million flows.
			d.nextSweep = d.clock + max(d.cfg.HorizonMS/2, 1)
		}
	}
	st, dir, added := d.seen.upsert(r.Src, r.Dst, d.clock)
	if added && d.cold != nil && r.Src.Is4() && r.Dst.Is4() {
		k, _ := key4(r.Src, r.Dst)
		d.loadPair(st, k)
	}
	if st.d[dir] != 0 {
		return // not a first contact, and its reverse was handled then
	}
	st.d[dir] = seenDone
	var replied bool
	if r.Src != r.Dst { // else the reverse is this very flow
		replied = st.d[1-dir] != 0
		if st.pending(1-dir) && answers(r) {
			// This flow answers the other side's pending contact.
			c := &d.queue[st.pos(1-dir, d.base)-d.base]
			if !c.done && r.Start <= c.Start+d.cfg.WindowMS {
				c.done = true
				c.src.pending--
				st.d[1-dir] = seenDone
				d.outcome(c, true)
			}
		}
	}
	if replied && (d.cfg.InitiatedOnly || !answers(r)) {
		// The destination spoke to this source first: a refusal says
		// nothing of this source, and with InitiatedOnly neither does an
		// answer (the paper counts only connections a host initiates).
		return
	}
	s, _ := d.srcs.Get(r.Src)
	if s == nil {
		if d.cold != nil {
			s = d.loadSource(r.Src)
		}
		if s == nil {
			s = &source{walk: Walk{LR: 1}}
		}
		d.srcs.Set(r.Src, s)
	}
	s.last = d.clock
	if s.decided {
		return
	}
	s.contacts++
	s.targets.add(r.Dst)
	c := contactOf(s, r, d.index)
	if replied || (r.Proto == 6 && r.TCPFlags&flow.TCPAck != 0) {
		d.outcome(&c, true)
		return
	}
	if d.Pending() >= d.cfg.MaxPending {
		d.expire(0, true) // looks pairs up, adds none: st stays valid
	}
	deadline := r.Start + d.cfg.WindowMS
	if deadline < d.clock {
		// The flow ended after its own window: an answer to a long flow
		// can still come, so wait until the stream passes its end.
		deadline = d.clock
	}
	st.setPos(dir, d.base+int64(len(d.queue)))
	c.deadline = deadline
	s.pending++
	d.queue = append(d.queue, c)
}

// expire decides contacts whose window has passed (or the oldest one when
// force).
func (d *Detector) expire(now int64, force bool) {
	for d.head < len(d.queue) {
		c := &d.queue[d.head]
		if !c.done && !force && c.deadline >= now {
			break
		}
		force = false
		if !c.done {
			c.done = true
			c.src.pending--
			st, dir, _ := d.seen.upsert(c.Src, c.Dst, d.clock) // there since its flow (pending pairs are never swept or evicted): adds nothing
			st.d[dir] = seenDone
			d.outcome(c, false)
		}
		d.head++
	}
	if d.head > 1024 && d.head*2 > len(d.queue) {
		n := copy(d.queue, d.queue[d.head:])
		clear(d.queue[n:])
		d.queue = d.queue[:n]
		d.base += int64(d.head)
		d.head = 0
	}
}

// outcome applies the result of first contact c to its source.
func (d *Detector) outcome(c *contact, success bool) {
	s := c.src
	if s.decided {
		return
	}
	// By the contacts' own times: a failure is known a reply window
	// after its flow, and the next flow may come hours later.
	if s.walk.Attempts == 0 {
		s.started = c.Start
	} else if h := d.cfg.HorizonMS; h > 0 && c.Start-s.started > h {
		// Undecided for a whole horizon: this outcome starts a new walk.
		s.walk, s.started = Walk{LR: 1}, c.Start
	}
	switch d.cfg.Step(&s.walk, success) {
	case Scanner:
		s.decided = true
		targets := s.targets.addrs()
		s.targets = evidence{}
		d.sink(analyze.Finding{
			Detector: "trw", Kind: analyze.TRWScan, Src: c.Src, Dst: c.Dst,
			Time: c.Start, Index: c.index, Flow: c.Record(),
			Rule: "likelihood ratio >= beta/alpha", Threshold: d.cfg.Eta1(),
			Value: s.walk.LR, Score: s.walk.LR, Attempts: s.walk.Attempts,
			Targets: targets, Note: fmt.Sprintf("%d first contacts", s.contacts),
		})
	case Benign:
		s.walk = Walk{LR: 1}
	}
}

// sweep forgets the pairs and sources silent for longer than the
// horizon (see the package doc).
func (d *Detector) sweep() {
	d.forget(d.clock - d.cfg.HorizonMS)
}

// forget drops the pairs and sources whose last flow is older than cut.
func (d *Detector) forget(cut int64) {
	d.forgotPairs += uint64(d.seen.forget(cut))
	n := d.srcs.Len()
	// A source's pending contacts hold it by pointer and still decide
	// it; a source silent for a horizon has none (they wait seconds).
	d.srcs.DeleteFunc(func(s *source) bool { return s.last < cut })
	d.forgotSources += uint64(n - d.srcs.Len())
	if d.cold != nil {
		d.cold.cutAt(cut)
	}
}

// Tracked is how many pairs and sources the detector holds now, and
// Forgotten how many the horizon dropped so far.
func (d *Detector) Tracked() (pairs, sources int) { return d.seen.len(), d.srcs.Len() }
func (d *Detector) Forgotten() (pairs, sources uint64) {
	return d.forgotPairs, d.forgotSources
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

// Validate checks the test's parameters: probabilities strictly between 0
// and 1 with θ1 < θ0 and α < β; zero fields take the defaults.
func (c Config) Validate() error {
	d := c.withDefaults()
	for _, p := range []struct {
		name string
		v    float64
	}{{"theta0", d.Theta0}, {"theta1", d.Theta1}, {"alpha", d.Alpha}, {"beta", d.Beta}} {
		if p.v <= 0 || p.v >= 1 {
			return fmt.Errorf("trw %s %v: must be between 0 and 1 (exclusive)", p.name, p.v)
		}
	}
	switch {
	case d.Theta1 >= d.Theta0:
		return fmt.Errorf("trw theta1 %v: must be below theta0 %v", d.Theta1, d.Theta0)
	case d.Beta <= d.Alpha:
		return fmt.Errorf("trw beta %v: must be above alpha %v", d.Beta, d.Alpha)
	case c.MaxPending > maxPending:
		return fmt.Errorf("trw max pending %d: at most %d", c.MaxPending, maxPending)
	case c.WindowMS < 0 || c.MaxPending < 0:
		return fmt.Errorf("trw window %d ms, max pending %d: must not be negative", c.WindowMS, c.MaxPending)
	case d.HorizonMS > 0 && d.HorizonMS < 4*d.WindowMS:
		return fmt.Errorf("trw horizon %d ms: must be at least 4 reply windows (%d ms), or negative for none", d.HorizonMS, 4*d.WindowMS)
	}
	return nil
}

// Settings describes the configuration for a report.
func (c Config) Settings() []analyze.Setting {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	return []analyze.Setting{{Name: "TRW", Value: fmt.Sprintf("theta0 %s, theta1 %s, alpha %s, beta %s, reply window %d ms",
		f(c.Theta0), f(c.Theta1), f(c.Alpha), f(c.Beta), c.WindowMS)}}
}
