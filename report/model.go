// Package report turns one run's results into the report an operator
// reads: one data model (Model) feeds every format (HTML, Markdown, CSV,
// JSON, a mail message), so the formats never disagree.
package report

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"time"

	"github.com/flowsift/flowsift/analyze/assess"
	"github.com/flowsift/flowsift/analyze/episode"
	"github.com/flowsift/flowsift/analyze/talkers"
	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/internal/sourcelag"
)

// Model is the whole report. Its JSON form is the JSON report; see
// SCHEMA.md for the fields.
type Model struct {
	Tool        string     `json:"tool"`
	Version     string     `json:"version"`
	GeneratedAt string     `json:"generated_at"` // RFC 3339, UTC
	Window      Window     `json:"window"`
	Inputs      Inputs     `json:"inputs"`
	Settings    []Setting  `json:"settings"`
	Detectors   []string   `json:"detectors"`
	Scanners    []Scanner  `json:"scanners"`
	TargetHosts []Target   `json:"target_hosts"`
	TargetPorts []Target   `json:"target_ports"`
	Talkers     []Talkers  `json:"top_talkers"`
	Excessive   []Excess   `json:"excessive_flows"`
	Suppress    []Suppress `json:"suggested_suppress"`
	Activity    []Bucket   `json:"activity"` // scanner activity over the window, for the chart
	// Background aggregates the episodes of class "background" (outside
	// sources that only sent unanswered probes into the local networks).
	Background Background `json:"background"`
	// Campaigns group scans from several sources (see assess.go), and
	// Roles are the roles inferred for busy hosts.
	Campaigns []Campaign `json:"campaigns"`
	Roles     []HostRole `json:"host_roles"`
}

// Window is the time the report covers.
type Window struct {
	From      string `json:"from_utc"` // first flow start (or --from), RFC 3339 UTC
	To        string `json:"to_utc"`   // last flow end (or --to)
	FromLocal string `json:"from_local"`
	ToLocal   string `json:"to_local"`
	Zone      string `json:"zone"`
}

// Inputs is what was read and what was skipped.
type Inputs struct {
	Paths     []string `json:"paths"`
	FilesSeen int      `json:"files_seen"`
	FilesRead int      `json:"files_read"`
	Flows     uint64   `json:"flows"`
	BadRows   int64    `json:"bad_rows"`
	Partial   bool     `json:"partial"`
	Skipped   []Skip   `json:"skipped"`
	Sources   []Source `json:"sources"` // one per path, in command-line order
}

// Source is what one input path gave: in the usual archive one router's
// flow-capture tree, so that a router that stopped exporting shows.
type Source struct {
	Path    string `json:"path"`
	Files   int    `json:"files"`
	Flows   uint64 `json:"flows"`
	Skipped int64  `json:"skipped"` // items passed over under it (files, tails, rows)
	// The earliest and the latest flow end, UTC to the ms, and the same
	// in --tz; "" when the path gave no flow.
	FirstEnd      string `json:"first_flow_end"`
	LastEnd       string `json:"last_flow_end"`
	FirstEndLocal string `json:"first_flow_end_local"`
	LastEndLocal  string `json:"last_flow_end_local"`
	// BehindMS is how long before the latest last flow end of the other
	// paths its last flow ended (0 when it is not behind, gave no flow or
	// is alone); Note says "stopped 2 h 50 min before the others" when
	// that is more than the window allows (see sourcelag), "no flows"
	// when it gave none, else "".
	BehindMS int64  `json:"behind_ms"`
	Note     string `json:"note"`
}

// Skip is one thing passed over.
type Skip struct {
	Path   string `json:"path"`
	Offset int64  `json:"offset"` // -1 when not meaningful
	Line   int64  `json:"line"`   // 0 when not meaningful
	Reason string `json:"reason"`
	Count  int64  `json:"count"`
	Detail string `json:"detail"`
}

// Setting is one option or threshold in force.
type Setting struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Scanner is one scanner episode.
type Scanner struct {
	Src          string   `json:"src"`
	Kind         string   `json:"kind"`
	Detectors    []string `json:"detectors"`
	Rules        []Rule   `json:"rules"`
	First        string   `json:"first_seen"`
	Last         string   `json:"last_seen"`
	Flows        uint64   `json:"flows"`
	Packets      uint64   `json:"packets"`
	Bytes        uint64   `json:"bytes"`
	Targets      int      `json:"targets"`
	LocalTargets int      `json:"local_targets"`
	Ports        int      `json:"ports"`
	TopPorts     []string `json:"top_ports"` // "tcp/22 (300)"
	Sample       []string `json:"sample_targets"`
	Flags        string   `json:"tcp_flags"`
	Truncated    bool     `json:"truncated"`
	Partial      bool     `json:"partial"`
	Service      bool     `json:"looks_like_service"`
	FlowTools    string   `json:"followup_flow_tools"`
	FilterFile   string   `json:"followup_filter_file"`
	Nfdump       string   `json:"followup_nfdump"`
	// Origin is "local" (source inside --local), "external", or "" when
	// no local networks were given.
	Origin     string `json:"origin"`
	TCPFlows   uint64 `json:"tcp_flows"`
	NoAckFlows uint64 `json:"tcp_flows_without_ack"`
	// Replied: targets that answered the episode's UDP or ICMP echo
	// probes with a flow back to the source (episode.Episode.Replied).
	// RepliedProbes: the distinct (target, port) pairs so answered.
	Replied       int `json:"replied_targets"`
	RepliedProbes int `json:"replied_probes"`
	// Answered: some TCP flow of the source carried ACK, so a connection
	// it opened was answered, or some target answered a UDP or ICMP echo
	// probe (Replied > 0).
	Answered bool `json:"answered"`
	// Class is local, answered, other or background (see rank.go), and
	// Rank the episode's place in the ranked findings (1 = first).
	Class string `json:"class"`
	Rank  int    `json:"rank"`
	// FollowUpCmd is the command for the input kind read when it is not
	// flow-tools or nfdump (a flowsift command for Parquet or CSV).
	FollowUpCmd string `json:"followup_flowsift"`
	// The assessment (package assess): severity (critical, high, medium,
	// low, info), confidence 0..1, the one-line reason, the role inferred
	// for the source, held back (the role explains what fired; does not
	// count for --fail-on-findings) and the campaign number (0 = none).
	Severity   string  `json:"severity"`
	Confidence float64 `json:"confidence"`
	Reason     string  `json:"reason"`
	Role       string  `json:"role"`
	HeldBack   bool    `json:"held_back"`
	Campaign   int     `json:"campaign"`
	// RoleWhy is the role with the figures that decided it ("" = none).
	RoleWhy string `json:"role_figures"`
}

// Rule is one detector rule that fired for an episode.
type Rule struct {
	Detector  string  `json:"detector"`
	Kind      string  `json:"kind"`
	Rule      string  `json:"rule"`
	Threshold float64 `json:"threshold"`
	Value     float64 `json:"value"`
	Count     int     `json:"count"`
	Score     float64 `json:"score,omitempty"`
	Attempts  int     `json:"attempts,omitempty"`
}

// Target is a most scanned host or port.
type Target struct {
	Target   string   `json:"target"`
	Episodes int      `json:"episodes"`
	Flows    uint64   `json:"flows"`
	Scanners []string `json:"scanners"` // "SRC (first..last)"
	// Name is, for a port whose flows include ICMP or ICMPv6 ones, the
	// type they stand for (see portNames); "" otherwise.
	Name      string `json:"name,omitempty"`
	ICMPFlows uint64 `json:"icmp_flows,omitempty"` // the ICMP and ICMPv6 flows among Flows
}

// Talkers is one top-N table.
type Talkers struct {
	Key      string      `json:"key"`
	Order    string      `json:"order"`
	Distinct int         `json:"distinct"`
	Rows     []TalkerRow `json:"rows"`
}

// TalkerRow is one line of a top-N table.
type TalkerRow struct {
	Key     string `json:"key"`
	Flows   uint64 `json:"flows"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
	// Name and ICMPFlows as in Target: set in the dstport and port
	// tables for a number under which ICMP or ICMPv6 flows were counted.
	Name      string `json:"name,omitempty"`
	ICMPFlows uint64 `json:"icmp_flows,omitempty"`
}

// Excess is a flow that tripped an excessive-flow trigger.
type Excess struct {
	Kind      string  `json:"kind"`
	Rule      string  `json:"rule"`
	Threshold float64 `json:"threshold"`
	Value     float64 `json:"value"`
	Start     string  `json:"start"`
	End       string  `json:"end"`
	Src       string  `json:"src"`
	SrcPort   uint16  `json:"src_port"`
	Dst       string  `json:"dst"`
	DstPort   uint16  `json:"dst_port"`
	Proto     uint8   `json:"proto"`
	Packets   uint64  `json:"packets"`
	Bytes     uint64  `json:"bytes"`
}

// Suppress is a suggested suppress-list entry.
type Suppress struct {
	File    string `json:"file"` // "src" or "dst"
	Line    string `json:"line"` // flow-dscan syntax
	Comment string `json:"comment"`
}

// Bucket is one slice of the window for the activity chart.
type Bucket struct {
	Start    string `json:"start"`
	Scanners int    `json:"scanners"` // episodes active in the slice
}

// Input is everything a report is built from.
type Input struct {
	Version     string
	GeneratedAt time.Time
	Zone        *time.Location
	From, To    time.Time // requested window; zero = the flows' own span
	FirstFlow   int64     // ms, earliest Start seen (0 = no flows)
	LastFlow    int64     // ms, latest End seen
	Paths       []string
	Sources     []InputSource // one per path, in command-line order
	FilesSeen   int
	FilesRead   int
	Flows       uint64
	Skips       []flow.Skip
	Partial     bool
	Settings    []Setting
	Detectors   []string
	Result      *episode.Result
	Tables      []talkers.Table
	// Local networks: they tell local scanners from outside ones and
	// background radiation from the rest.
	Local []netip.Prefix
	// Assessment gives each episode its severity and reason (nil: none).
	Assessment *assess.Result
}

// InputSource is what ingest counted for one input path (ingest.Source).
type InputSource struct {
	Path        string
	Files       int
	Skipped     int64
	Flows       uint64
	First, Last int64 // ms, earliest and latest flow End (0 = no flows)
}

func utc(ms int64) string { return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z") }

func local(ms int64, zone *time.Location) string {
	return time.UnixMilli(ms).In(zone).Format("2006-01-02T15:04:05.000Z07:00")
}

// Build makes the model. It is deterministic: same Input, same Model.
func Build(in Input) *Model {
	zone := in.Zone
	if zone == nil {
		zone = time.UTC
	}
	m := &Model{Tool: "flowsift", Version: in.Version, GeneratedAt: in.GeneratedAt.UTC().Format(time.RFC3339),
		Settings: in.Settings, Detectors: in.Detectors}
	from, to := in.From, in.To
	if from.IsZero() && in.FirstFlow != 0 {
		from = time.UnixMilli(in.FirstFlow)
	}
	if to.IsZero() && in.LastFlow != 0 {
		to = time.UnixMilli(in.LastFlow)
	}
	if !from.IsZero() {
		m.Window.From, m.Window.FromLocal = from.UTC().Format(time.RFC3339), from.In(zone).Format(time.RFC3339)
	}
	if !to.IsZero() {
		m.Window.To, m.Window.ToLocal = to.UTC().Format(time.RFC3339), to.In(zone).Format(time.RFC3339)
	}
	m.Window.Zone = zone.String()
	m.Inputs = Inputs{Paths: in.Paths, FilesSeen: in.FilesSeen, FilesRead: in.FilesRead, Flows: in.Flows, Partial: in.Partial}
	var window time.Duration
	if !from.IsZero() && !to.IsZero() {
		window = to.Sub(from)
	}
	m.Inputs.Sources = sources(in.Sources, zone, window)
	for _, s := range in.Skips {
		if s.Reason == "bad-row" {
			m.Inputs.BadRows += max(s.Count, 1)
		}
		m.Inputs.Skipped = append(m.Inputs.Skipped, Skip{s.Path, s.Offset, s.Line, s.Reason, max(s.Count, 1), s.Detail})
	}
	sort.SliceStable(m.Inputs.Skipped, func(i, j int) bool {
		a, b := m.Inputs.Skipped[i], m.Inputs.Skipped[j]
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		if a.Offset != b.Offset {
			return a.Offset < b.Offset
		}
		return a.Line < b.Line
	})
	if r := in.Result; r != nil {
		top := map[int][]episode.PortCount{}
		for i := range r.Episodes {
			m.Scanners = append(m.Scanners, scannerRow(r.Episodes[i]))
			top[i] = r.Episodes[i].TopPorts
		}
		if a := in.Assessment; a != nil {
			for _, f := range a.Findings {
				if f.Episode >= 0 && f.Episode < len(m.Scanners) {
					s := &m.Scanners[f.Episode]
					s.Severity, s.Confidence, s.Reason, s.Role, s.HeldBack, s.Campaign = f.Severity, f.Confidence, f.Reason, f.Role, f.HeldBack, f.Campaign
				}
			}
		}
		m.fromAssessment(in.Assessment)
		for i := range r.Episodes {
			classify(&m.Scanners[i], &r.Episodes[i], in.Local)
		}
		rank(m.Scanners)
		m.Background = background(m.Scanners, top)
		m.TargetHosts = targetRows(r.TargetHosts, func(t episode.Target) string { return t.Addr.String() })
		m.TargetPorts = targetRows(r.TargetPorts, func(t episode.Target) string { return strconv.Itoa(int(t.Port)) })
		for i, t := range r.TargetPorts {
			m.TargetPorts[i].Name = portNames(t.Port, t.Flows, t.ICMPFlows, t.ICMPv6Flows)
			m.TargetPorts[i].ICMPFlows = t.ICMPFlows + t.ICMPv6Flows
		}
		for _, x := range r.Excessive {
			f := x.Flow
			m.Excessive = append(m.Excessive, Excess{string(x.Kind), x.Rule, x.Threshold, x.Value, utc(f.Start), utc(f.End),
				f.Src.String(), f.SrcPort, f.Dst.String(), f.DstPort, f.Proto, f.Packets, f.Octets})
		}
		for _, s := range r.Suppress {
			m.Suppress = append(m.Suppress, Suppress{s.File, s.Line, s.Comment})
		}
		m.Activity = activity(r.Episodes, in.FirstFlow, in.LastFlow)
	}
	for _, t := range in.Tables {
		tt := Talkers{Key: t.Key.String(), Order: t.Order.String(), Distinct: t.Distinct}
		for _, row := range t.Rows {
			tr := TalkerRow{Key: row.Label(t.Key), Flows: row.Counts.Flows, Packets: row.Counts.Packets, Bytes: row.Counts.Bytes}
			if t.Key == talkers.DstPort || t.Key == talkers.Port {
				tr.Name = portNames(row.Port, row.Counts.Flows, row.ICMPFlows, row.ICMPv6Flows)
				tr.ICMPFlows = row.ICMPFlows + row.ICMPv6Flows
			}
			tt.Rows = append(tt.Rows, tr)
		}
		m.Talkers = append(m.Talkers, tt)
	}
	return m
}

// sources makes the rows of the inputs table, marking a path whose flows
// stop well before the others' (sourcelag's rule over the window).
func sources(in []InputSource, zone *time.Location, window time.Duration) []Source {
	last := make([]int64, len(in))
	for i, s := range in {
		if s.Flows > 0 {
			last[i] = s.Last
		}
	}
	behind := sourcelag.Behind(last)
	var out []Source
	for i, s := range in {
		row := Source{Path: s.Path, Files: s.Files, Flows: s.Flows, Skipped: s.Skipped, BehindMS: behind[i]}
		if s.Flows == 0 {
			row.Note = "no flows"
		} else {
			row.FirstEnd, row.LastEnd = utc(s.First), utc(s.Last)
			row.FirstEndLocal, row.LastEndLocal = local(s.First, zone), local(s.Last, zone)
			row.Note = sourcelag.Note(behind[i], window)
		}
		out = append(out, row)
	}
	return out
}

// SourceWarnings says which input paths stopped before the others, one
// sentence each, for the head of the report: a path marked by the rule,
// or one that gave no flow while another did. Nothing with one path.
func (m *Model) SourceWarnings() []string {
	flowing := false
	for _, s := range m.Inputs.Sources {
		flowing = flowing || s.Flows > 0
	}
	var out []string
	for _, s := range m.Inputs.Sources {
		switch {
		case s.Flows == 0 && flowing:
			out = append(out, fmt.Sprintf("input %s gave no flows", s.Path))
		case s.Flows > 0 && s.Note != "":
			when := s.LastEnd
			if m.Window.Zone != "UTC" && m.Window.Zone != "" {
				when += ", " + s.LastEndLocal
			}
			out = append(out, fmt.Sprintf("input %s %s (last flow end %s)", s.Path, s.Note, when))
		}
	}
	return out
}

func scannerRow(ep episode.Episode) Scanner {
	s := Scanner{Src: ep.Src.String(), Kind: ep.Kind, Detectors: ep.Detectors, First: utc(ep.First), Last: utc(ep.Last),
		Flows: ep.Flows, Packets: ep.Packets, Bytes: ep.Bytes, Targets: ep.Targets, LocalTargets: ep.LocalTargets,
		Ports: ep.Ports, Flags: ep.Flags, Truncated: ep.Truncated, Partial: ep.Partial, Service: ep.Service,
		FlowTools: ep.FollowUp.FlowTools, FilterFile: ep.FollowUp.FilterFile, Nfdump: ep.FollowUp.Nfdump,
		FollowUpCmd: ep.FollowUp.Flowsift}
	for _, r := range ep.Rules {
		s.Rules = append(s.Rules, Rule{r.Detector, string(r.Kind), r.Rule, r.Threshold, r.Value, r.Count, r.Score, r.Attempts})
	}
	for _, p := range ep.TopPorts {
		s.TopPorts = append(s.TopPorts, fmt.Sprintf("%s (%d)", portName(p.Proto, p.Port), p.Flows))
	}
	for _, a := range ep.Sample {
		s.Sample = append(s.Sample, a.String())
	}
	return s
}

func targetRows(ts []episode.Target, name func(episode.Target) string) []Target {
	var out []Target
	for _, t := range ts {
		row := Target{Target: name(t), Episodes: t.Episodes, Flows: t.Flows}
		for _, s := range t.Scanners {
			row.Scanners = append(row.Scanners, fmt.Sprintf("%s (%s..%s)", s.Src, utc(s.First), utc(s.Last)))
		}
		out = append(out, row)
	}
	return out
}

// activityBuckets is how many slices the chart cuts the window into.
const activityBuckets = 48

func activity(eps []episode.Episode, first, last int64) []Bucket {
	if first == 0 || last <= first {
		return nil
	}
	step := (last - first + activityBuckets - 1) / activityBuckets
	out := make([]Bucket, activityBuckets)
	for i := range out {
		out[i].Start = utc(first + int64(i)*step)
	}
	for _, ep := range eps {
		lo := max((ep.First-first)/step, 0)
		hi := min((ep.Last-first)/step, activityBuckets-1)
		for i := lo; i <= hi; i++ {
			out[i].Scanners++
		}
	}
	return out
}

// ServiceEpisodes counts the scanner episodes of hosts suggested for the
// suppress list.
func (m *Model) ServiceEpisodes() int {
	k := 0
	for _, s := range m.Scanners {
		if s.Service {
			k++
		}
	}
	return k
}

// Findings reports whether the report holds anything an operator should
// look at (for --fail-on-findings): an episode not held back, or an
// excessive flow. An episode is held back when the host's role, inferred
// from its own flows (a server, resolver, relay, P2P client, monitoring
// host, busy client, or a host suggested for the suppress list), explains
// everything that fired and the host shows no scan signs.
func (m *Model) Findings() bool { return m.Counted() > 0 || len(m.Excessive) > 0 }
