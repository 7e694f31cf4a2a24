package episode

import (
	"cmp"
	"net/netip"
	"slices"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/flow"
)

const (
	defaultGap        = 3_600_000
	defaultSample     = 10
	defaultTopPorts   = 5
	defaultMaxSet     = 65536
	defaultFindingLag = 1 << 20
	defaultTopTargets = 20
	defaultService    = 0.6 // a resolver also queries upstream: its replies are ~75% of its flows
	defaultScanShare  = 0.05
	defaultMinPeers   = 20
	sweepEvery        = 1 << 14
)

func (c Config) withDefaults() Config {
	c.Gap = analyze.Positive(c.Gap, defaultGap)
	c.SampleTargets = analyze.Positive(c.SampleTargets, defaultSample)
	c.TopPorts = analyze.Positive(c.TopPorts, defaultTopPorts)
	c.MaxTargets = analyze.Positive(c.MaxTargets, defaultMaxSet)
	c.MaxPorts = analyze.Positive(c.MaxPorts, defaultMaxSet)
	c.FindingLag = cmp.Or(c.FindingLag, defaultFindingLag)
	c.TopTargets = analyze.Positive(c.TopTargets, defaultTopTargets)
	c.ServiceShare = analyze.Positive(c.ServiceShare, defaultService)
	c.ScanShare = analyze.Positive(c.ScanShare, defaultScanShare)
	c.MinPeers = analyze.Positive(c.MinPeers, defaultMinPeers)
	if c.Archive == "" {
		c.Archive = "ARCHIVE"
	}
	return c
}

// portKey packs protocol and port.
type portKey uint32

func mkPortKey(proto uint8, port uint16) portKey { return portKey(proto)<<16 | portKey(port) }
func (k portKey) proto() uint8                   { return uint8(k >> 16) }
func (k portKey) port() uint16                   { return uint16(k) }

// run is one source's flows with no gap longer than Config.Gap.
type run struct {
	firstIdx, lastIdx     uint64
	first, last           int64 // min Start, max End
	flows, packets, bytes uint64
	tcp, noAck            uint64
	fAnd, fOr             uint8
	service               uint64 // flows that look like service replies
	// aux holds what only some runs need; nil until the first of it.
	aux   *runAux
	dsts  addrCounts
	ports keyCounts // by portKey
	// A server answers from one or two ports (80 and 443, 53 over UDP
	// and TCP): replies from the two ports that answered last are counted
	// here, the more recent first, and reach svc when a third port
	// answers (or at flushSvc), so most flows skip the map.
	svcKey  [2]portKey
	svcPend [2]uint64
}

// runAux is the part of a run that few runs need, behind one pointer: a
// pointer more in every run took it from the 288-byte size class to the
// 320-byte one.
type runAux struct {
	svc map[portKey]uint64 // service replies by protocol and source port
	// replies are the UDP and ICMP echo answers sent to the source while
	// this run was its latest (see replies.go).
	replies replyLog
}

func (r *run) more() *runAux {
	if r.aux == nil {
		r.aux = &runAux{}
	}
	return r.aux
}

// svc is the run's service replies by protocol and port (nil: none);
// read it after flushSvc.
func (r *run) svc() map[portKey]uint64 {
	if r.aux == nil {
		return nil
	}
	return r.aux.svc
}

type source struct {
	runs []*run // in stream order; the last one may still be open
	// last is runs[len(runs)-1] (nil with no run), kept beside the slice:
	// every flow looks at it, and through the slice it was one more cache
	// miss.
	last *run
	// end and endIdx are last's last End and flow index: a sweep visits
	// every source, most have one run, and reading these in the source
	// spares it the run (on a day of background radiation, 3.4 of the
	// sweeps' 6.5 CPU s went to that second cache miss).
	end    int64
	endIdx uint64
}

// Accountant keeps the per-source accounting and collects findings. Feed it
// every flow of the stream with Add (in the same order and the same batches
// as the detectors, so its flow positions equal Finding.Index) and every
// finding with AddFinding (or the Sink); then call Result once. Not safe for
// concurrent use.
type Accountant struct {
	cfg       Config
	idx       uint64 // flows added so far (1-based position of the last one)
	now       int64  // largest End seen
	sources   sourceMap
	nextSweep uint64 // flow index of the next sweep
	findings  map[netip.Addr][]analyze.Finding
	excess    []analyze.Finding
	nfind     int
	// done are the episodes of runs that ended long enough ago that no
	// more finding can attach to them: built at the sweep that found
	// them, their runs freed.
	done []built
	// spare and gone spare the sweeps and the new sources their
	// allocations (see spares).
	spare spares
	gone  []int
	empty []netip.Addr
	// merged and mergedExcess come from the parts of other shards
	// (MergePart).
	merged       []built
	mergedExcess []analyze.Finding
}

// New returns an empty Accountant.
func New(cfg Config) *Accountant {
	return &Accountant{
		cfg:      cfg.withDefaults(),
		sources:  newSourceMap(),
		findings: make(map[netip.Addr][]analyze.Finding),
	}
}

// Sink returns a function that hands findings to AddFinding.
func (a *Accountant) Sink() analyze.Sink { return a.AddFinding }

// AddFinding records a finding of any detector. Findings may arrive in any
// interleaving of detectors, before or after the flows they point at (within
// Config.FindingLag flows); the result does not depend on that order.
func (a *Accountant) AddFinding(f analyze.Finding) {
	a.nfind++
	switch f.Kind {
	case analyze.ExcessiveOctets, analyze.ExcessivePkts, analyze.ExcessiveTime:
		a.excess = append(a.excess, f)
		return
	}
	a.findings[f.Src] = append(a.findings[f.Src], f)
}

// Add accounts a batch of flows.
func (a *Accountant) Add(b flow.Batch) {
	for i := range b {
		a.AddRecord(&b[i])
	}
}

// AddRecord accounts one flow.
func (a *Accountant) AddRecord(r *flow.Record) {
	a.idx++
	a.now = max(a.now, r.End)
	if k, ok := replyProbe(r); ok && a.cfg.Shard.Owns(r.Dst) {
		a.noteReply(r, k)
	}
	if !a.cfg.Shard.Owns(r.Src) {
		return
	}
	s := a.sources.get(r.Src)
	if s == nil {
		s = a.spare.source()
		a.sources.put(r.Src, s)
	}
	cur := s.last
	if cur == nil || r.End-cur.last > a.cfg.Gap {
		cur = a.spare.run()
		cur.firstIdx, cur.first, cur.last, cur.fAnd = a.idx, r.Start, r.End, 0xFF
		s.runs = append(s.runs, cur)
		s.last = cur
	}
	a.account(cur, r)
	s.end, s.endIdx = cur.last, cur.lastIdx
	if a.idx >= a.nextSweep {
		// A sweep visits every source, so sweeps are at least as many flows
		// apart as there are sources: amortised O(1) a flow, and at most
		// twice the live sources held. And none comes before a run can
		// be judged: FindingLag flows after the oldest last flow of the
		// runs held (or of those to come). Without that bound every sweep
		// of the first FindingLag flows found nothing, 0.14 of 4.2 CPU s
		// of a report over a million flows.
		oldest := a.idx
		if a.nextSweep != 0 {
			oldest = a.sweep()
		}
		a.nextSweep = max(a.idx+uint64(max(sweepEvery, a.sources.len())), oldest+a.cfg.FindingLag+1)
	}
}

func (a *Accountant) account(cur *run, r *flow.Record) {
	cur.lastIdx = a.idx
	cur.first = min(cur.first, r.Start)
	cur.last = max(cur.last, r.End)
	cur.flows++
	cur.packets += r.Packets
	cur.bytes += r.Octets
	if r.Proto == 6 {
		cur.tcp++
		cur.fAnd &= r.TCPFlags
		cur.fOr |= r.TCPFlags
		if r.TCPFlags&flow.TCPAck == 0 {
			cur.noAck++
		}
	}
	if isServiceReply(r) {
		cur.service++
		switch k := mkPortKey(r.Proto, r.SrcPort); {
		case k == cur.svcKey[0]:
			cur.svcPend[0]++
		case k == cur.svcKey[1]:
			cur.svcKey[0], cur.svcKey[1] = k, cur.svcKey[0]
			cur.svcPend[0], cur.svcPend[1] = cur.svcPend[1]+1, cur.svcPend[0]
		default:
			cur.spillSvc(1)
			cur.svcKey[1], cur.svcPend[1] = cur.svcKey[0], cur.svcPend[0]
			cur.svcKey[0], cur.svcPend[0] = k, 1
		}
	}
	cur.dsts.inc(r.Dst, a.cfg.MaxTargets)
	cur.ports.add(uint32(mkPortKey(r.Proto, r.DstPort)), a.cfg.MaxPorts)
}

// noteReply notes r on the latest run of its destination, if that run's
// source sent its last flow no more than ReplyWindow before r started (and
// for a SYN-ACK, if none of the run's TCP flows carried ACK: see
// replies.go).
func (a *Accountant) noteReply(r *flow.Record, k portKey) {
	s := a.sources.get(r.Dst)
	if s == nil || s.last == nil || r.Start > s.last.last+ReplyWindow {
		return
	}
	if k.proto() == 6 && (s.last.tcp == 0 || s.last.noAck < s.last.tcp) {
		return
	}
	s.last.more().replies.add(r.Src, k, a.cfg.MaxTargets)
}

// flushSvc moves the pending replies into svc; read svc only after it.
func (r *run) flushSvc() {
	r.spillSvc(0)
	r.spillSvc(1)
}

func (r *run) spillSvc(i int) {
	if r.svcPend[i] == 0 {
		return
	}
	x := r.more()
	if x.svc == nil {
		x.svc = make(map[portKey]uint64)
	}
	x.svc[r.svcKey[i]] += r.svcPend[i]
	r.svcPend[i] = 0
}

// isServiceReply says whether a flow looks like a server answering a client:
// UDP or TCP from a well-known port (below 1024) to an unprivileged one, and
// for TCP with ACK set (a reply, not a probe sent from a chosen source port).
func isServiceReply(r *flow.Record) bool {
	if r.SrcPort == 0 || r.SrcPort >= 1024 || r.DstPort < 1024 {
		return false
	}
	switch r.Proto {
	case 17:
		return true
	case 6:
		return r.TCPFlags&flow.TCPAck != 0
	}
	return false
}

// sweep frees finished runs. A run is finished when its source has been
// silent for more than Gap of stream time, and is judged only FindingLag
// flows after its last flow so that findings still on their way are
// counted: a run no finding points at is dropped, and one with findings
// is built into its episode there and then (as Result would build it) and
// dropped, so that memory follows the active sources even when many of
// them were flagged. It returns the oldest last flow of the runs it kept
// (the current flow if none).
func (a *Accountant) sweep() (oldest uint64) {
	oldest = a.idx
	a.spare.setLimit()
	empty := a.empty[:0]
	for src, s := range a.sources.all() {
		if len(s.runs) == 1 && (a.now-s.end <= a.cfg.Gap || s.endIdx+a.cfg.FindingLag >= a.idx) {
			oldest = min(oldest, s.endIdx) // its one run stays: the loop below, without reading it
			continue
		}
		gone := a.gone[:0]
		for i, r := range s.runs {
			finished := i < len(s.runs)-1 || a.now-r.last > a.cfg.Gap
			if finished && r.lastIdx+a.cfg.FindingLag < a.idx {
				gone = append(gone, i)
			} else {
				oldest = min(oldest, r.lastIdx)
			}
		}
		a.gone = gone
		if len(gone) == 0 {
			continue
		}
		// Findings are attached against the runs as they stand, before
		// any is removed.
		for _, i := range gone {
			if g := a.takeFindings(src, s.runs, i); len(g) > 0 {
				a.done = append(a.done, a.buildRun(src, s.runs[i], g))
			}
		}
		kept := s.runs[:0]
		for i, r := range s.runs {
			if len(gone) > 0 && gone[0] == i {
				gone = gone[1:]
				a.spare.keepRun(r)
				continue
			}
			kept = append(kept, r)
		}
		clear(s.runs[len(kept):])
		s.runs = kept
		s.last, s.end, s.endIdx = nil, 0, 0
		if n := len(kept); n > 0 {
			s.last = kept[n-1]
			s.end, s.endIdx = s.last.last, s.last.lastIdx
		}
		if len(s.runs) == 0 {
			empty = append(empty, src)
		}
	}
	for _, src := range empty {
		a.spare.keepSource(a.sources.get(src))
		a.sources.delete(src)
	}
	a.empty = empty
	return oldest
}

// takeFindings removes and returns the findings of src attached to its
// i-th run, sorted as episodesOf sorts them.
func (a *Accountant) takeFindings(src netip.Addr, runs []*run, i int) []analyze.Finding {
	fs := a.findings[src]
	var g []analyze.Finding
	kept := fs[:0]
	for _, f := range fs {
		if attach(runs, f, a.cfg.Gap) == i {
			g = append(g, f)
		} else {
			kept = append(kept, f)
		}
	}
	if len(g) == 0 {
		return nil
	}
	clear(fs[len(kept):])
	if len(kept) == 0 {
		delete(a.findings, src)
	} else {
		a.findings[src] = kept
	}
	sortFindings(g)
	return g
}

// attach returns the index of the run a finding belongs to, or -1: the run
// whose flow positions include the finding's Index; else the latest run
// that started before it, if the finding came no later than Gap after that
// run's last flow.
func attach(runs []*run, f analyze.Finding, gap int64) int {
	best := -1
	for i, r := range runs {
		if r.firstIdx > f.Index {
			break
		}
		if f.Index <= r.lastIdx {
			return i
		}
		best = i
	}
	if best >= 0 && f.Time-runs[best].last <= gap {
		return best
	}
	return -1
}

// sortFindings puts a source's findings in an order independent of arrival.
func sortFindings(fs []analyze.Finding) {
	slices.SortStableFunc(fs, func(x, y analyze.Finding) int {
		if x.Index != y.Index {
			if x.Index < y.Index {
				return -1
			}
			return 1
		}
		if c := compareStr(x.Detector, y.Detector); c != 0 {
			return c
		}
		if c := compareStr(string(x.Kind), string(y.Kind)); c != 0 {
			return c
		}
		if c := compareStr(x.Rule, y.Rule); c != 0 {
			return c
		}
		if c := x.Dst.Compare(y.Dst); c != 0 {
			return c
		}
		switch {
		case x.Time < y.Time:
			return -1
		case x.Time > y.Time:
			return 1
		case x.Value < y.Value:
			return -1
		case x.Value > y.Value:
			return 1
		}
		return 0
	})
}

func compareStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
