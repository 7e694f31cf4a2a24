package report

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/flowsift/flowsift/analyze/assess"
	"github.com/flowsift/flowsift/analyze/episode"
)

// The classes of a scanner episode, in the order the report shows them:
// what an operator must act on first comes first.
const (
	// ClassLocal: the source is inside the local networks. A local host
	// that scans is the usual sign of an infected or misused machine.
	ClassLocal = "local"
	// ClassAnswered: an outside source that scanned and found something:
	// some of its TCP flows carried ACK (a connection it opened was
	// answered) while at least half did not (most probes failed, as a
	// scan's do); or some of its targets answered its UDP, TCP SYN or
	// ICMP echo probes (episode.Episode.Replied) while at most half of its probes
	// did (RepliedProbes against its targets or ports), when no
	// TCP flow was answered (TCP's answers decide otherwise); or the
	// assessment rates it high or critical (password guessing answers
	// every login). A source most of whose connections or targets
	// answered is a busy client a detector flagged: "other".
	ClassAnswered = "answered"
	// ClassOther: everything that is neither of the above nor background
	// (no --local given, outside targets, episodes that look like
	// service or that a host's role explains, findings built from
	// evidence only).
	ClassOther = "other"
	// ClassBackground: an outside source whose every target is local and
	// none of whose flows shows an answer: Internet background radiation.
	// It is aggregated into one section instead of a row each.
	ClassBackground = "background"
)

// classOrder ranks the classes.
var classOrder = map[string]int{ClassLocal: 0, ClassAnswered: 1, ClassOther: 2, ClassBackground: 3}

// Local networks are needed to tell local from outside sources; without
// them every episode is "other" (nothing can be called background).
func classify(s *Scanner, ep *episode.Episode, local []netip.Prefix) {
	s.TCPFlows, s.NoAckFlows, s.Replied, s.RepliedProbes = ep.TCPFlows, ep.NoAckFlows, ep.Replied, ep.RepliedProbes
	tcpAnswered := ep.NoAckFlows < ep.TCPFlows
	s.Answered = tcpAnswered || ep.Replied > 0
	// The same scan shape for both kinds of answer: most probes failed.
	// A source probed at least as many (target, port) pairs as it has
	// targets or ports, so half the larger of the two is the bound: a
	// vertical UDP scan of one host that found two open ports out of 24
	// is a scan, one client asking its one resolver is not. TCP's own
	// answers decide when there are any, so that a busy TCP client that
	// also looked up names (its resolver answered) stays where it was.
	scanShape := ep.Replied > 0 && 2*ep.RepliedProbes <= max(s.Targets, s.Ports)
	if tcpAnswered {
		scanShape = 2*ep.NoAckFlows >= ep.TCPFlows
	}
	if len(local) > 0 {
		s.Origin = "external"
		if inLocal(ep.Src, local) {
			s.Origin = "local"
		}
	}
	switch {
	case s.Service || s.HeldBack || s.Partial || s.Origin == "":
		s.Class = ClassOther
	case s.Origin == "local":
		s.Class = ClassLocal
	case s.Answered && (scanShape || assess.Level(s.Severity) >= assess.Level(assess.High)):
		s.Class = ClassAnswered
	case !s.Answered && s.Targets > 0 && s.LocalTargets == s.Targets && !s.Truncated:
		s.Class = ClassBackground
	default:
		s.Class = ClassOther
	}
}

func inLocal(a netip.Addr, local []netip.Prefix) bool {
	a = a.Unmap()
	for _, p := range local {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// byImportance orders episodes inside a class: the most severe first
// (the assessment's severity, then its confidence), then the widest reach
// into our space, then the most flows, then time and address so that the
// order never depends on anything but the data.
func byImportance(a, b *Scanner) int {
	if c := cmp.Compare(assess.Level(b.Severity), assess.Level(a.Severity)); c != 0 {
		return c
	}
	if c := cmp.Compare(b.Confidence, a.Confidence); c != 0 {
		return c
	}
	if c := cmp.Compare(b.LocalTargets, a.LocalTargets); c != 0 {
		return c
	}
	if c := cmp.Compare(b.Targets, a.Targets); c != 0 {
		return c
	}
	if c := cmp.Compare(b.Flows, a.Flows); c != 0 {
		return c
	}
	if c := strings.Compare(a.First, b.First); c != 0 {
		return c
	}
	return strings.Compare(a.Src, b.Src)
}

// rank numbers the scanner episodes (Scanner.Rank, 1 = most important)
// by class, then by importance. Model.Scanners keeps its documented
// order (first seen, source); Ranked gives the ranked view.
func rank(sc []Scanner) {
	idx := make([]int, len(sc))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(i, j int) int {
		a, b := &sc[i], &sc[j]
		if c := cmp.Compare(classOrder[a.Class], classOrder[b.Class]); c != 0 {
			return c
		}
		return byImportance(a, b)
	})
	for r, i := range idx {
		sc[i].Rank = r + 1
	}
}

// classOf is an episode's class; a model put together by hand (not by
// Build) has none, and its episodes count as "other".
func classOf(s *Scanner) string {
	if _, ok := classOrder[s.Class]; ok {
		return s.Class
	}
	return ClassOther
}

// Ranked returns the episodes of one class in rank order.
func (m *Model) Ranked(class string) []Scanner {
	var out []Scanner
	for i := range m.Scanners {
		if classOf(&m.Scanners[i]) == class {
			out = append(out, m.Scanners[i])
		}
	}
	slices.SortStableFunc(out, func(a, b Scanner) int {
		if c := cmp.Compare(a.Rank, b.Rank); c != 0 {
			return c
		}
		return byImportance(&a, &b)
	})
	return out
}

// Background is the aggregate of the background-radiation episodes.
type Background struct {
	Sources  int    `json:"sources"`  // distinct source addresses
	Episodes int    `json:"episodes"` // their episodes
	Flows    uint64 `json:"flows"`
	Packets  uint64 `json:"packets"`
	Bytes    uint64 `json:"bytes"`
	Targets  int    `json:"targets"` // sum over episodes of distinct local targets
	// Ports are the ports those sources aimed at, counted over each
	// episode's most hit ports (top_ports): by sources desc, flows desc,
	// name.
	Ports []PortSources `json:"ports"`
}

// PortSources is one port of the background section.
type PortSources struct {
	Port    string `json:"port"`    // "tcp/23", "icmp/echo-request"
	Sources int    `json:"sources"` // distinct sources with it among their top ports
	Flows   uint64 `json:"flows"`   // their flows to it
}

func background(sc []Scanner, top map[int][]episode.PortCount) Background {
	var b Background
	srcs := map[string]bool{}
	type acc struct {
		srcs  map[string]bool
		flows uint64
	}
	ports := map[string]*acc{}
	for i, s := range sc {
		if s.Class != ClassBackground {
			continue
		}
		b.Episodes++
		srcs[s.Src] = true
		b.Flows += s.Flows
		b.Packets += s.Packets
		b.Bytes += s.Bytes
		b.Targets += s.LocalTargets
		for _, p := range top[i] {
			name := portName(p.Proto, p.Port)
			a := ports[name]
			if a == nil {
				a = &acc{srcs: map[string]bool{}}
				ports[name] = a
			}
			a.srcs[s.Src] = true
			a.flows += p.Flows
		}
	}
	b.Sources = len(srcs)
	for name, a := range ports {
		b.Ports = append(b.Ports, PortSources{name, len(a.srcs), a.flows})
	}
	slices.SortFunc(b.Ports, func(x, y PortSources) int {
		if c := cmp.Compare(y.Sources, x.Sources); c != 0 {
			return c
		}
		if c := cmp.Compare(y.Flows, x.Flows); c != 0 {
			return c
		}
		return strings.Compare(x.Port, y.Port)
	})
	return b
}

// portName names a destination port for people: ICMP carries type and
// code in it (type*256+code, as flow-tools and nfdump store them), so it
// shows as the type's name.
func portName(proto uint8, port uint16) string {
	switch proto {
	case 0:
		return "port/" + strconv.Itoa(int(port))
	case 1, 58:
		return episode.ProtoName(proto) + "/" + ICMPName(proto, port)
	}
	return episode.ProtoName(proto) + "/" + strconv.Itoa(int(port))
}

// Commas prints n with thousands separators ("6,012").
func Commas[T ~int | ~int64 | ~uint64](n T) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// capList joins at most k items, then says how many more there are:
// "a, b, ... and 6,012 more". Long lists stay whole in CSV and JSON.
func capList(items []string, k int, sep string) string {
	if k <= 0 || len(items) <= k {
		return strings.Join(items, sep)
	}
	return strings.Join(items[:k], sep) + sep + "... and " + Commas(len(items)-k) + " more"
}
