// Package assess turns the episodes of a run into findings an analyst can
// act on: each gets a severity, a confidence, the figures that decided it
// (each with its threshold) and a one-line reason; the roles inferred for
// busy hosts (package roles) explain or hold back what they account for;
// findings are ranked by severity; and scans that share a port, overlap in
// time and cover disjoint parts of one network are grouped into campaigns.
//
// It reads the episode accountant's result and the roles; it changes
// neither.
package assess

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/analyze/episode"
	"github.com/flowsift/flowsift/analyze/roles"
)

// Severity levels, highest first.
const (
	Critical = "critical"
	High     = "high"
	Medium   = "medium"
	Low      = "low"
	Info     = "info"
)

var levels = map[string]int{Critical: 4, High: 3, Medium: 2, Low: 1, Info: 0}

// Level is the rank of a severity (critical 4 ... info 0).
func Level(s string) int { return levels[s] }

// Figure is one measured value that decided a finding, with the threshold
// it was compared with.
type Figure struct {
	Source    string // the detector or "role"
	Name      string
	Value     float64
	Threshold float64
}

// Finding is the assessment of one episode.
type Finding struct {
	Episode    int // index into the episode result's Episodes
	Src        netip.Addr
	First      int64
	Severity   string
	Confidence float64 // 0..1: how sure the detectors are that this is what Reason says
	Reason     string
	Figures    []Figure
	// Role is the role inferred for the source ("" = none) and RoleWhy
	// its deciding figures.
	Role, RoleWhy string
	// HeldBack: the source's role (or its service-like flows) accounts
	// for what fired and it shows no scan signs; the finding is listed but
	// does not count for --fail-on-findings.
	HeldBack bool
	Campaign int // 1-based campaign number, 0 = none
}

// Member is one source of a campaign.
type Member struct {
	Src         netip.Addr
	Episode     int
	Targets     int
	Low, High   netip.Addr // lowest and highest target of its sample
	First, Last int64
}

// Campaign is a group of scans: one port, overlapping in time, disjoint
// targets inside one network.
type Campaign struct {
	ID          int
	Proto       uint8
	Port        uint16
	Network     netip.Prefix // the smallest prefix holding every member's sample
	First, Last int64
	Members     []Member // by First, then Src
}

// Result is the assessment of a run.
type Result struct {
	Findings  []Finding // ranked: severity, confidence, first seen, source
	Campaigns []Campaign
	Roles     []roles.Role
}

// Counted is how many findings count for --fail-on-findings.
func (r *Result) Counted() int {
	n := 0
	for _, f := range r.Findings {
		if !f.HeldBack {
			n++
		}
	}
	return n
}

// scanKinds are the kinds a role can explain: a busy server, relay or
// monitor crosses these thresholds by doing its job.
var scanKinds = map[analyze.Kind]bool{
	analyze.HostScan: true, analyze.PortScan: true, analyze.TRWScan: true, analyze.FastScan: true,
	analyze.FanOut: true, analyze.SynOnly: true, "vertical-scan": true,
}

// Per-detector confidence that a finding of it is a scan, from their
// precision on the generated ground truth (analyze/eval): dscan's
// thresholds are crossed by busy servers, TRW and the vertical walk test
// outcomes, weighted ports and the SYN heuristic need probes.
var detectorConfidence = map[string]float64{
	"dscan": 0.5, "trw": 0.8, "vscan": 0.8, "weighted-ports": 0.9, "heuristics": 0.7,
}

// Assess assesses every episode of res; rs are the roles of the run,
// local the site's networks (a local source that scans is worse than an
// outside one).
func Assess(res *episode.Result, rs []roles.Role, local []netip.Prefix) *Result {
	out := &Result{Roles: rs}
	if res == nil {
		return out
	}
	role := map[netip.Addr]roles.Role{}
	for _, r := range rs {
		role[r.Addr] = r
	}
	for i := range res.Episodes {
		out.Findings = append(out.Findings, assess(i, &res.Episodes[i], role, local))
	}
	out.Campaigns = campaigns(res.Episodes, out.Findings)
	for _, c := range out.Campaigns {
		for _, m := range c.Members {
			out.Findings[m.Episode].Campaign = c.ID
		}
	}
	slices.SortStableFunc(out.Findings, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(Level(b.Severity), Level(a.Severity)), cmp.Compare(b.Confidence, a.Confidence),
			cmp.Compare(a.First, b.First), a.Src.Compare(b.Src))
	})
	return out
}

func has(ep *episode.Episode, k analyze.Kind) bool { return slices.Contains(ep.Kinds, k) }

func assess(i int, ep *episode.Episode, role map[netip.Addr]roles.Role, local []netip.Prefix) Finding {
	f := Finding{Episode: i, Src: ep.Src, First: ep.First}
	for _, r := range ep.Rules {
		f.Figures = append(f.Figures, Figure{Source: r.Detector, Name: string(r.Kind) + ": " + r.Rule, Value: r.Value, Threshold: r.Threshold})
	}
	isLocal := false
	for _, p := range local {
		if p.Contains(ep.Src) {
			isLocal = true
		}
	}
	scan := false
	for _, k := range ep.Kinds {
		scan = scan || scanKinds[k]
	}
	// Confidence: detectors that agree, each with its own weight.
	miss := 1.0
	for _, d := range ep.Detectors {
		if c, ok := detectorConfidence[d]; ok {
			miss *= 1 - c
		}
	}
	f.Confidence = 1 - miss
	switch {
	case has(ep, "possible-compromise"):
		f.Severity, f.Confidence = Critical, scoreOf(ep, "possible-compromise")
	case has(ep, "password-guessing"):
		f.Severity, f.Confidence = High, scoreOf(ep, "password-guessing")
	case scan && isLocal:
		f.Severity = High
	case scan || has(ep, analyze.PolicyPort):
		f.Severity = Medium
	default:
		f.Severity = Low
	}
	f.Reason = reason(ep, isLocal)
	r, ok := role[ep.Src]
	// A role explains an episode only when every kind in it is one a
	// busy host crosses by doing its job: a policy or plan violation, a
	// bogon or a password guess beside it is not explained away.
	explains := len(ep.Kinds) > 0
	for _, k := range ep.Kinds {
		explains = explains && scanKinds[k]
	}
	switch {
	case ok && r.ScanSigns:
		f.Role, f.RoleWhy = r.Role, r.Why()
		var sf []string
		for _, x := range r.ScanFigs {
			sf = append(sf, x.String())
			f.Figures = append(f.Figures, Figure{Source: "role", Name: x.Name, Value: x.Value, Threshold: x.Threshold})
		}
		f.Reason += fmt.Sprintf("; although it looks like a %s, it shows scan signs (%s)", r.Role, strings.Join(sf, ", "))
	case ok && explains:
		f.Role, f.RoleWhy, f.HeldBack = r.Role, r.Why(), true
		for _, x := range r.Figures {
			f.Figures = append(f.Figures, Figure{Source: "role", Name: x.Name, Value: x.Value, Threshold: x.Threshold})
		}
		f.Severity = Info
		f.Reason = fmt.Sprintf("held back: %s looks like a %s (%s) and shows no scan signs; the detectors saw: %s",
			ep.Src, r.Role, r.Why(), f.Reason)
	case ok:
		f.Role, f.RoleWhy = r.Role, r.Why()
	case ep.Service && explains:
		f.HeldBack, f.Severity = true, Info
		f.Reason = fmt.Sprintf("held back: %s answers many peers like a server (suggested for the suppress list) and shows no scan signs; the detectors saw: %s", ep.Src, f.Reason)
	}
	return f
}

func scoreOf(ep *episode.Episode, k analyze.Kind) float64 {
	for _, r := range ep.Rules {
		if r.Kind == k {
			return r.Score
		}
	}
	return 0
}

func ruleOf(ep *episode.Episode, k analyze.Kind) (episode.DetectorRule, bool) {
	for _, r := range ep.Rules {
		if r.Kind == k {
			return r, true
		}
	}
	return episode.DetectorRule{}, false
}

func dur(ms int64) string {
	d := time.Duration(ms) * time.Millisecond
	if d < time.Minute {
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}

func topPort(ep *episode.Episode) string {
	if len(ep.TopPorts) == 0 {
		return ""
	}
	p := ep.TopPorts[0]
	name := map[uint8]string{6: "tcp", 17: "udp", 1: "icmp", 58: "icmp6"}[p.Proto]
	if name == "" {
		name = fmt.Sprintf("proto %d", p.Proto)
	}
	return fmt.Sprintf("%s/%d", name, p.Port)
}

// Scan shapes, for what answered says.
const (
	vertical = iota
	portScan
	hostScan
)

// answered says what answered the scan: the share of its TCP flows
// without ACK (a connect scan's answered probes carry it), and the
// targets that sent an answer back (episode.Episode.Replied). A SYN scan's
// flows never carry ACK, answered or not: when its targets answered, a
// share that rounds to 100 % says nothing and is left out.
func answered(ep *episode.Episode, shape int) string {
	var s string
	if ep.TCPFlows > 0 {
		pct := 100 * float64(ep.NoAckFlows) / float64(ep.TCPFlows)
		if ep.Replied == 0 || pct < 99.5 {
			s = fmt.Sprintf(", %.0f %% of its TCP flows unanswered", pct)
		}
	}
	if ep.Replied == 0 {
		return s
	}
	switch shape {
	case vertical:
		return s + fmt.Sprintf(", %s answered", plural(ep.RepliedProbes, "port"))
	case hostScan:
		return s + fmt.Sprintf(", %s answered", plural(ep.Replied, "host"))
	}
	return s + fmt.Sprintf(", %s answered on %s", plural(ep.RepliedProbes, "port"), plural(ep.Replied, "host"))
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// reason is the one line an analyst repeats to a colleague.
func reason(ep *episode.Episode, local bool) string {
	who := ep.Src.String()
	if local {
		who = "local host " + who
	}
	target := func() string {
		if len(ep.Sample) > 0 {
			return ep.Sample[0].String()
		}
		return "one host"
	}
	span := dur(ep.Last - ep.First)
	switch {
	case has(ep, "possible-compromise"):
		r, _ := ruleOf(ep, "possible-compromise")
		return fmt.Sprintf("%s had a session %.0f times longer or bigger than its many short logins to %s on %s: possible compromise after password guessing",
			who, r.Value, target(), topPort(ep))
	case has(ep, "password-guessing"):
		n := uint64(0)
		if len(ep.TopPorts) > 0 {
			n = ep.TopPorts[0].Flows
		}
		return fmt.Sprintf("%s made %d connections to %s on %s in %s, short and of similar size: password guessing", who, n, target(), topPort(ep), span)
	case has(ep, "vertical-scan") && ep.Targets <= 3:
		return fmt.Sprintf("%s probed %d ports of %s over %s%s: a vertical scan", who, ep.Ports, target(), span, answered(ep, vertical))
	case has(ep, analyze.PortScan) || has(ep, "vertical-scan") || has(ep, analyze.FastScan):
		return fmt.Sprintf("%s probed %d ports on %d hosts over %s%s: a port scan", who, ep.Ports, ep.Targets, span, answered(ep, portScan))
	case has(ep, analyze.HostScan) || has(ep, analyze.TRWScan) || has(ep, analyze.SynOnly) || has(ep, analyze.FanOut):
		ports := fmt.Sprintf("%d ports", ep.Ports)
		if ep.Ports == 1 {
			ports = topPort(ep)
		}
		return fmt.Sprintf("%s contacted %d hosts on %s over %s%s: a host scan", who, ep.Targets, ports, span, answered(ep, hostScan))
	}
	var ks []string
	for _, k := range ep.Kinds {
		ks = append(ks, string(k))
	}
	return fmt.Sprintf("%s: %s over %s (%d hosts, %d ports)", who, strings.Join(ks, ", "), span, ep.Targets, ep.Ports)
}

// campaignSlack is how far apart two scans may be and still be "at the
// same time": flows of slow scanners end minutes apart.
const campaignSlack = 5 * 60_000

// maxOpen bounds the campaigns of one port and network a scan is tried
// against.
const maxOpen = 64

// campaigns groups the scan episodes not held back that hit mostly one
// port: same protocol and port, targets sampled inside one /16 (IPv4) or
// /48 (IPv6), time spans that overlap (with campaignSlack), target samples
// that do not intersect, from two or more sources.
//
// Candidates are bucketed by protocol, port and network, then taken in
// order of first seen: each joins the first open campaign of its bucket
// that overlaps it in time and shares none of its sampled targets, or
// opens a new one. The cost grows with candidates × campaigns, not with
// the square of the candidates (an archive of background radiation has
// tens of thousands of scanners of one port).
func campaigns(eps []episode.Episode, fs []Finding) []Campaign {
	type bucket struct {
		proto uint8
		port  uint16
		net   netip.Prefix
	}
	type open struct {
		members     []int // episode indexes
		first, last int64
		addrs       map[netip.Addr]bool
		srcs        map[netip.Addr]bool
	}
	buckets := map[bucket][]int{}
	for i := range eps {
		ep := &eps[i]
		if fs[i].HeldBack || len(ep.TopPorts) == 0 || len(ep.Sample) == 0 || ep.Targets < 2 {
			continue
		}
		scan := false
		for _, k := range ep.Kinds {
			scan = scan || scanKinds[k]
		}
		top := ep.TopPorts[0]
		if !scan || top.Proto == 0 || float64(top.Flows) < 0.8*float64(ep.Flows) || !oneNetwork(ep.Sample) {
			continue
		}
		bits := 16
		if !ep.Sample[0].Is4() {
			bits = 48
		}
		n, _ := ep.Sample[0].Prefix(bits)
		k := bucket{top.Proto, top.Port, n}
		buckets[k] = append(buckets[k], i)
	}
	var out []Campaign
	for k, idx := range buckets {
		slices.SortFunc(idx, func(x, y int) int {
			return cmp.Or(cmp.Compare(eps[x].First, eps[y].First), eps[x].Src.Compare(eps[y].Src))
		})
		var camps []*open
		for _, i := range idx {
			ep := &eps[i]
			var into *open
			// Only the latest maxOpen campaigns are tried: when every
			// scanner hits the same hosts each opens its own, and trying
			// them all would cost the square of the scanners.
			for _, c := range camps[max(0, len(camps)-maxOpen):] {
				if ep.First > c.last+campaignSlack || c.first > ep.Last+campaignSlack || c.srcs[ep.Src] {
					continue
				}
				shared := false
				for _, a := range ep.Sample {
					shared = shared || c.addrs[a]
				}
				if !shared {
					into = c
					break
				}
			}
			if into == nil {
				into = &open{first: ep.First, last: ep.Last, addrs: map[netip.Addr]bool{}, srcs: map[netip.Addr]bool{}}
				camps = append(camps, into)
			}
			into.members = append(into.members, i)
			into.first, into.last = min(into.first, ep.First), max(into.last, ep.Last)
			into.srcs[ep.Src] = true
			for _, a := range ep.Sample {
				into.addrs[a] = true
			}
		}
		for _, c := range camps {
			if cp, ok := campaignOf(eps, k.proto, k.port, c.members); ok {
				out = append(out, cp)
			}
		}
	}
	slices.SortFunc(out, func(x, y Campaign) int {
		return cmp.Or(cmp.Compare(x.First, y.First), x.Members[0].Src.Compare(y.Members[0].Src), cmp.Compare(x.Port, y.Port))
	})
	for i := range out {
		out[i].ID = i + 1
	}
	return out
}

// campaignOf makes the campaign of episodes members (sorted by first
// seen); ok is false for fewer than two sources.
func campaignOf(eps []episode.Episode, proto uint8, port uint16, members []int) (Campaign, bool) {
	var all []netip.Addr
	c := Campaign{Proto: proto, Port: port}
	for _, i := range members {
		ep := &eps[i]
		all = append(all, ep.Sample...)
		c.Members = append(c.Members, Member{Src: ep.Src, Episode: i, Targets: ep.Targets,
			Low: slices.MinFunc(ep.Sample, netip.Addr.Compare), High: slices.MaxFunc(ep.Sample, netip.Addr.Compare), First: ep.First, Last: ep.Last})
	}
	if len(c.Members) < 2 {
		return Campaign{}, false
	}
	c.First, c.Last = c.Members[0].First, c.Members[0].Last
	for _, m := range c.Members {
		c.First, c.Last = min(c.First, m.First), max(c.Last, m.Last)
	}
	c.Network = cover(all)
	return c, true
}

// oneNetwork: all addresses of one family inside one /16 (IPv4) or /48.
func oneNetwork(a []netip.Addr) bool {
	p := cover(a)
	if !p.IsValid() {
		return false
	}
	if p.Addr().Is4() {
		return p.Bits() >= 16
	}
	return p.Bits() >= 48
}

// cover is the smallest prefix holding every address (invalid when the
// families differ).
func cover(a []netip.Addr) netip.Prefix {
	if len(a) == 0 {
		return netip.Prefix{}
	}
	bits := a[0].BitLen()
	for _, x := range a[1:] {
		if x.BitLen() != bits {
			return netip.Prefix{}
		}
	}
	for n := bits; n >= 0; n-- {
		p, _ := a[0].Prefix(n)
		ok := true
		for _, x := range a[1:] {
			if !p.Contains(x) {
				ok = false
				break
			}
		}
		if ok {
			return p
		}
	}
	return netip.Prefix{}
}
