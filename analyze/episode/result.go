package episode

import (
	"cmp"
	"fmt"
	"iter"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowsift/flowsift/analyze"
)

// FlagsSummary renders TCP flags in scanlogd's style over the letters
// "fsrpauxy" (FIN SYN RST PSH ACK URG and the two reserved bits, now ECE
// and CWR, in bit order): upper case when the bit was set in every flow,
// lower case when it was never set, '?' when it varied. and/or are the AND
// and the OR of the flows' flags; with no flow (n == 0) it returns "".
func FlagsSummary(and, or uint8, n uint64) string {
	if n == 0 {
		return ""
	}
	const letters = "fsrpauxy"
	b := make([]byte, 8)
	for i := 0; i < 8; i++ {
		m := uint8(1) << i
		switch {
		case and&m != 0:
			b[i] = letters[i] - 'a' + 'A'
		case or&m == 0:
			b[i] = letters[i]
		default:
			b[i] = '?'
		}
	}
	return string(b)
}

// Result builds every view, over the accountant's own episodes and those
// of the parts merged into it. Call it once, after the last flow and
// finding.
func (a *Accountant) Result() *Result {
	return views(a.cfg, append(a.built(), a.merged...), append(slices.Clone(a.excess), a.mergedExcess...))
}

// built makes the episodes of every source with findings.
func (a *Accountant) built() []built {
	srcs := make([]netip.Addr, 0, len(a.findings))
	for src := range a.findings {
		srcs = append(srcs, src)
	}
	slices.SortFunc(srcs, netip.Addr.Compare)

	// Sources are independent: their episodes are built side by side
	// (this is the serial tail of a report, after the pass), then put
	// together in source order.
	perSrc := make([][]built, len(srcs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := min(runtime.GOMAXPROCS(0), len(srcs)); w > 0; w-- {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(srcs); i = int(next.Add(1) - 1) {
				perSrc[i] = a.episodesOf(srcs[i])
			}
		}()
	}
	wg.Wait()
	eps := slices.Clone(a.done)
	for _, bs := range perSrc {
		eps = append(eps, bs...)
	}
	return eps
}

// views sorts the episodes and builds every view of them. The episodes of
// one source come from one accountant (one shard), in its order, so the
// stable sort below gives the same order whichever parts were merged.
func views(cfg Config, eps []built, excess []analyze.Finding) *Result {
	res := &Result{}

	// Only findings of scan kinds make episodes; the Excessive list carries
	// the rest (AddFinding already split them off).
	slices.SortStableFunc(eps, func(x, y built) int {
		if c := cmp.Compare(x.ep.First, y.ep.First); c != 0 {
			return c
		}
		return x.ep.Src.Compare(y.ep.Src)
	})
	for i := range eps {
		b := &eps[i]
		b.ep.Targets = len(b.dsts)
		b.ep.Ports = b.ports.len()
		for _, d := range b.dsts {
			if isLocal(cfg.Local, d.key) {
				b.ep.LocalTargets++
			}
		}
		for _, d := range b.dsts[:min(len(b.dsts), cfg.SampleTargets)] {
			b.ep.Sample = append(b.ep.Sample, d.key)
		}
		b.ep.FollowUp = followUp(cfg, b.ep)
		res.Episodes = append(res.Episodes, b.ep)
	}

	// Suppress suggestions: per source over all its episodes. They come
	// before the targets views, which leave the suggested sources out: a
	// server that crossed a threshold by answering its clients did not scan
	// them, and counted as a scanner it filled "most scanned" with its
	// busiest clients and their ephemeral ports.
	suggested := map[netip.Addr]bool{}
	bySrc := map[netip.Addr][]*built{}
	var order []netip.Addr
	for i := range eps {
		s := eps[i].ep.Src
		if bySrc[s] == nil {
			order = append(order, s)
		}
		bySrc[s] = append(bySrc[s], &eps[i])
	}
	slices.SortFunc(order, netip.Addr.Compare)
	for _, s := range order {
		var flows, tcp, noAck, svcN uint64
		var peers map[netip.Addr]bool // the union, when the source has several episodes
		if len(bySrc[s]) > 1 {
			peers = map[netip.Addr]bool{}
		}
		svc := map[portKey]uint64{}
		var epsOf []Episode
		partial := false
		for _, b := range bySrc[s] {
			flows += b.ep.Flows
			tcp += b.ep.TCPFlows
			noAck += b.ep.NoAckFlows
			svcN += b.svcN
			partial = partial || b.ep.Partial
			if peers != nil {
				for _, d := range b.dsts {
					peers[d.key] = true
				}
			}
			for k, n := range b.svc {
				svc[k] += n
			}
			epsOf = append(epsOf, b.ep)
		}
		npeers := len(peers)
		if peers == nil {
			npeers = len(bySrc[s][0].dsts)
		}
		if sg, ok := suggest(cfg, s, flows, tcp, noAck, svcN, npeers, svc, partial, epsOf); ok {
			res.Suppress = append(res.Suppress, sg)
			suggested[s] = true
		}
	}
	// The scanners table keeps these episodes (a detector did fire) but
	// marks them, so the likely false positives stand out where they are
	// listed, not only in the suppress section at the end.
	for i := range res.Episodes {
		res.Episodes[i].Service = suggested[res.Episodes[i].Src]
	}

	// Targets views. Every target hit gets a tally; only the top ones get
	// their list of scanners, built afterwards from the episodes (a tally
	// per target instead of a list made them a third of Result's time).
	nd := 0
	for i := range eps {
		nd += len(eps[i].dsts)
	}
	hosts := make(map[netip.Addr]*tally, nd)
	ports := make([]tally, 1<<16) // by port; episodes 0 = not hit
	// hit lists the ports with a tally: the 2 MB by port are read only
	// there. Read in full, their untouched pages were faulted in: 6 % of
	// the CPU of a report over one small file (750 flows).
	var hit []uint16
	icmp := map[uint16]*[2]uint64{} // by port: ICMP and ICMPv6 flows of those
	// By source, so that a target meets each source's episodes in a row:
	// a source is a new scanner of the target when it differs from the
	// last one counted there.
	bySrcFirst := make([]int, 0, len(eps))
	for i := range eps {
		if !suggested[eps[i].ep.Src] {
			bySrcFirst = append(bySrcFirst, i)
		}
	}
	slices.SortStableFunc(bySrcFirst, func(x, y int) int { return eps[x].ep.Src.Compare(eps[y].ep.Src) })
	group := int32(0)
	for j, i := range bySrcFirst {
		b := &eps[i]
		if j == 0 || b.ep.Src != eps[bySrcFirst[j-1]].ep.Src {
			group++
		}
		for _, d := range b.dsts {
			t := hosts[d.key]
			if t == nil {
				t = &tally{}
				hosts[d.key] = t
			}
			t.add(group, d.flows)
		}
		b.ports.each(func(p uint16, n uint64) {
			if ports[p].episodes == 0 {
				hit = append(hit, p)
			}
			ports[p].add(group, n)
		})
		for _, p := range b.icmp {
			c := icmp[p.key.port()]
			if c == nil {
				c = new([2]uint64)
				icmp[p.key.port()] = c
			}
			c[min(p.key.proto()/58, 1)] += p.flows
		}
	}
	scannersOf := func(hit func(b *built) bool) []Scanner {
		var out []Scanner
		for _, i := range bySrcFirst {
			b := &eps[i]
			if !hit(b) {
				continue
			}
			if n := len(out); n > 0 && out[n-1].Src == b.ep.Src {
				out[n-1].First = min(out[n-1].First, b.ep.First)
				out[n-1].Last = max(out[n-1].Last, b.ep.Last)
				continue
			}
			out = append(out, Scanner{Src: b.ep.Src, First: b.ep.First, Last: b.ep.Last})
		}
		return out
	}
	res.TargetHosts = topTargets(func(yield func(Target, *tally) bool) {
		for d, t := range hosts {
			if !yield(Target{Addr: d}, t) {
				return
			}
		}
	}, cfg.TopTargets, func(x, y Target) int { return x.Addr.Compare(y.Addr) }, func(t Target) []Scanner {
		return scannersOf(func(b *built) bool { return has(b.dsts, t.Addr, netip.Addr.Compare) })
	})
	res.TargetPorts = topTargets(func(yield func(Target, *tally) bool) {
		for _, p := range hit {
			if !yield(Target{Port: p}, &ports[p]) {
				return
			}
		}
	}, cfg.TopTargets, func(x, y Target) int { return cmp.Compare(x.Port, y.Port) }, func(t Target) []Scanner {
		return scannersOf(func(b *built) bool { return b.ports.has(t.Port) })
	})
	for i := range res.TargetPorts {
		if c := icmp[res.TargetPorts[i].Port]; c != nil {
			res.TargetPorts[i].ICMPFlows, res.TargetPorts[i].ICMPv6Flows = c[0], c[1]
		}
	}

	// Excessive flows.
	sortFindings(excess)
	for _, f := range excess {
		res.Excessive = append(res.Excessive, Excessive{
			Kind: f.Kind, Detector: f.Detector, Index: f.Index, Time: f.Time,
			Rule: f.Rule, Threshold: f.Threshold, Value: f.Value, Flow: f.Flow,
		})
	}

	return res
}

// built is an episode with the sets the views are made of.
type built struct {
	ep    Episode
	dsts  []addrFlows // by address, distinct
	ports portSet
	// icmp are the ICMP and ICMPv6 entries among ports, by protocol
	// and type/code: the views tell a port's ICMP flows by them.
	icmp []keyFlows[portKey]
	svc  map[portKey]uint64
	svcN uint64
}

// keyFlows is a target (an address or a port) and the episode's flows to
// it: 0 for a target only a finding names; a port's flows are summed over
// its protocols. An episode's sets are slices sorted by key rather than
// maps: a scanner's run to tens of thousands, and building maps of them
// was most of Result's time.
type keyFlows[K any] struct {
	key   K
	flows uint64
}

type addrFlows = keyFlows[netip.Addr]

// has says whether the sorted set s holds k; cmp orders the keys.
func has[K any](s []keyFlows[K], k K, cmp func(K, K) int) bool {
	_, ok := slices.BinarySearchFunc(s, k, func(x keyFlows[K], k K) int { return cmp(x.key, k) })
	return ok
}

// withKeys adds the keys of extra that the sorted set s lacks, with no
// flows, keeping s sorted.
func withKeys[K any](s []keyFlows[K], extra []K, cmp func(K, K) int) []keyFlows[K] {
	n := len(s)
	for _, k := range extra {
		if !has(s[:n], k, cmp) {
			s = append(s, keyFlows[K]{key: k})
		}
	}
	if len(s) > n {
		slices.SortFunc(s, func(x, y keyFlows[K]) int { return cmp(x.key, y.key) })
	}
	return s
}

// episodesOf builds the episodes of one source with findings. It only
// reads the accountant (and compacts the source's own runs), so sources
// may be built concurrently.
func (a *Accountant) episodesOf(src netip.Addr) []built {
	cfg := a.cfg
	var eps []built
	fs := slices.Clone(a.findings[src])
	sortFindings(fs)
	var runs []*run
	if s := a.sources.get(src); s != nil {
		runs = s.runs
	}
	groups := make(map[int][]analyze.Finding)
	var orphans []analyze.Finding
	for _, f := range fs {
		if i := attach(runs, f, cfg.Gap); i >= 0 {
			groups[i] = append(groups[i], f)
		} else {
			orphans = append(orphans, f)
		}
	}
	for i, r := range runs {
		if g := groups[i]; len(g) > 0 {
			eps = append(eps, a.buildRun(src, r, g))
		}
	}
	// Findings with no accounted flows: group by Gap on their times.
	for len(orphans) > 0 {
		n := 1
		last := orphans[0].Time
		for n < len(orphans) && orphans[n].Time-last <= cfg.Gap {
			last = max(last, orphans[n].Time)
			n++
		}
		g := orphans[:n]
		orphans = orphans[n:]
		var b built
		b.ep = Episode{Src: src, First: g[0].Time, Last: last, Partial: true}
		for _, f := range g {
			b.ep.First = min(b.ep.First, f.Time)
		}
		targets, ports := fillFromFindings(&b.ep, g)
		b.dsts, b.ports = withKeys(nil, targets, netip.Addr.Compare), newPortSet(keyCounts{}, ports)
		eps = append(eps, b)
	}
	return eps
}

// buildRun makes the episode of run r of src with the findings g
// attached to it (sorted).
func (a *Accountant) buildRun(src netip.Addr, r *run, g []analyze.Finding) built {
	cfg := a.cfg
	r.dsts.finish(cfg.MaxTargets)
	r.flushSvc()
	r.ports.compact(cfg.MaxPorts)
	b := built{dsts: make([]addrFlows, 0, r.dsts.len()), svc: r.svc(), svcN: r.service}
	ep := Episode{
		Src: src, First: r.first, Last: r.last,
		Flows: r.flows, Packets: r.packets, Bytes: r.bytes,
		Flags: FlagsSummary(r.fAnd, r.fOr, r.tcp), TCPFlows: r.tcp, NoAckFlows: r.noAck,
		Truncated: r.dsts.truncated() || r.ports.truncated(),
	}
	// IPv4 targets come sorted; the others (a map) follow them in
	// address order once sorted among themselves.
	for d, n := range r.dsts.all() {
		b.dsts = append(b.dsts, addrFlows{d, n})
	}
	v6 := b.dsts[len(r.dsts.v4.keys):]
	slices.SortFunc(v6, func(x, y addrFlows) int { return x.key.Compare(y.key) })
	top := topPorts{n: cfg.TopPorts}
	r.ports.each(func(k uint32, n uint64) { // by protocol, then port
		pk := portKey(k)
		if p := pk.proto(); p == 1 || p == 58 {
			b.icmp = append(b.icmp, keyFlows[portKey]{pk, n})
		}
		top.offer(PortCount{Port: pk.port(), Proto: pk.proto(), Flows: n})
	})
	ep.TopPorts = top.best
	if r.aux != nil {
		ep.Replied, ep.RepliedProbes = r.aux.replies.answered(r, cfg.MaxTargets)
	}
	b.ep = ep
	targets, ports := fillFromFindings(&b.ep, g)
	b.dsts = withKeys(b.dsts, targets, netip.Addr.Compare)
	// The episode takes the run's port table over, and the run, built,
	// is read no more: its targets (copied) and logs are let go now, not
	// after every source is built.
	r.ports.log = nil
	b.ports = newPortSet(r.ports, ports)
	r.ports, r.dsts = keyCounts{}, addrCounts{}
	return b
}

// fillFromFindings adds what the findings say: kinds, detectors, rules,
// and returns their evidence (targets and ports the detector saw, which may
// predate or exceed the accounted sets), sorted and distinct.
func fillFromFindings(ep *Episode, fs []analyze.Finding) (targets []netip.Addr, ports []uint16) {
	ep.Findings = len(fs)
	kinds := map[analyze.Kind]bool{}
	dets := map[string]bool{}
	rules := map[[3]string]*DetectorRule{}
	for _, f := range fs {
		kinds[f.Kind] = true
		dets[f.Detector] = true
		k := [3]string{f.Detector, string(f.Kind), f.Rule}
		if r := rules[k]; r != nil {
			r.Count++
			r.Value = max(r.Value, f.Value)
		} else {
			rules[k] = &DetectorRule{Detector: f.Detector, Kind: f.Kind, Rule: f.Rule, Threshold: f.Threshold,
				Value: f.Value, Count: 1, First: f.Time, Score: f.Score, Attempts: f.Attempts}
		}
		targets = append(targets, f.Targets...)
		if f.Dst.IsValid() && (f.Kind == analyze.PortScan || f.Kind == analyze.HostScan) {
			targets = append(targets, f.Dst)
		}
		ports = append(ports, f.Ports...)
	}
	slices.SortFunc(targets, netip.Addr.Compare)
	targets = slices.Compact(targets)
	slices.Sort(ports)
	ports = slices.Compact(ports)
	for k := range kinds {
		ep.Kinds = append(ep.Kinds, k)
	}
	slices.Sort(ep.Kinds)
	for d := range dets {
		ep.Detectors = append(ep.Detectors, d)
	}
	slices.Sort(ep.Detectors)
	for _, r := range rules {
		ep.Rules = append(ep.Rules, *r)
	}
	slices.SortFunc(ep.Rules, func(x, y DetectorRule) int {
		if c := cmp.Compare(x.Detector, y.Detector); c != 0 {
			return c
		}
		if c := cmp.Compare(x.Kind, y.Kind); c != 0 {
			return c
		}
		return cmp.Compare(x.Rule, y.Rule)
	})
	ep.Kind = kindSummary(kinds)
	return targets, ports
}

func kindSummary(kinds map[analyze.Kind]bool) string {
	var parts []string
	switch {
	case kinds[analyze.HostScan] && kinds[analyze.PortScan]:
		parts = append(parts, "both")
	case kinds[analyze.HostScan]:
		parts = append(parts, "host scan")
	case kinds[analyze.PortScan]:
		parts = append(parts, "port scan")
	}
	var rest []string
	for k := range kinds {
		if k != analyze.HostScan && k != analyze.PortScan {
			rest = append(rest, string(k))
		}
	}
	slices.Sort(rest)
	return strings.Join(append(parts, rest...), " + ")
}

// topPorts keeps the n ports with the most flows as they are offered
// (ties: lower port, then protocol): a scanner's run offers tens of
// thousands, and sorting them all to keep five was most of its cost.
type topPorts struct {
	n    int
	best []PortCount // sorted, at most n
}

func comparePortCounts(x, y PortCount) int {
	if c := cmp.Compare(y.Flows, x.Flows); c != 0 {
		return c
	}
	if c := cmp.Compare(x.Port, y.Port); c != 0 {
		return c
	}
	return cmp.Compare(x.Proto, y.Proto)
}

func (t *topPorts) offer(p PortCount) {
	if len(t.best) == t.n && (t.n == 0 || comparePortCounts(p, t.best[t.n-1]) >= 0) {
		return
	}
	i, _ := slices.BinarySearchFunc(t.best, p, comparePortCounts)
	t.best = slices.Insert(t.best, i, p)
	if len(t.best) > t.n {
		t.best = t.best[:t.n]
	}
}

func isLocal(local []netip.Prefix, a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range local {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// tally counts a target's scanners, episodes and flows.
type tally struct {
	scanners, episodes int
	flows              uint64
	group              int32 // the source that counted last (1-based)
}

// add counts an episode of source group with flows to the target. Groups
// must come in a row.
func (t *tally) add(group int32, flows uint64) {
	t.episodes++
	t.flows += flows
	if t.group != group {
		t.scanners++
		t.group = group
	}
}

// topTargets returns the n first targets (by scanners, episodes and flows,
// descending, then tie), keeping only n while it goes (scanners hit tens of
// thousands of ports), each with its scanners sorted by first seen.
func topTargets(all iter.Seq2[Target, *tally], n int, tie func(x, y Target) int, scanners func(Target) []Scanner) []Target {
	if n <= 0 {
		return nil
	}
	type cand struct {
		t Target
		*tally
	}
	order := func(x, y cand) int {
		if c := cmp.Compare(y.scanners, x.scanners); c != 0 {
			return c
		}
		if c := cmp.Compare(y.episodes, x.episodes); c != 0 {
			return c
		}
		if c := cmp.Compare(y.flows, x.flows); c != 0 {
			return c
		}
		return tie(x.t, y.t)
	}
	cs := make([]cand, 0, n+1)
	for t, tl := range all {
		c := cand{t, tl}
		if len(cs) == n && order(c, cs[n-1]) >= 0 {
			continue
		}
		i, _ := slices.BinarySearchFunc(cs, c, order)
		cs = slices.Insert(cs, i, c)
		if len(cs) > n {
			cs = cs[:n]
		}
	}
	out := make([]Target, len(cs))
	for i, c := range cs {
		t := c.t
		t.Episodes, t.Flows = c.episodes, c.flows
		t.Scanners = scanners(t)
		slices.SortFunc(t.Scanners, func(x, y Scanner) int {
			if c := cmp.Compare(x.First, y.First); c != 0 {
				return c
			}
			return x.Src.Compare(y.Src)
		})
		out[i] = t
	}
	return out
}

// ProtoName is "tcp", "udp", "icmp" or the number.
func ProtoName(p uint8) string {
	switch p {
	case 1:
		return "icmp"
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 58:
		return "ipv6-icmp"
	}
	return fmt.Sprint(p)
}

func utc(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02 15:04:05Z")
}
