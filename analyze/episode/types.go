// Package episode turns the findings of every detector, plus per-source flow
// accounting done in the same pass, into scanner episodes (one row per
// scanner episode, not one per alert), a targets view, the excessive-flow
// list, suggested suppress-list entries and follow-up commands.
//
// # Episodes
//
// An episode is a maximal run of one source's flows in which consecutive
// flows (in stream order) end no more than Config.Gap apart (default 1 h),
// and to which at least one finding of that source is attached. A finding is
// attached to the run of its Src that contains its Index (the 1-based stream
// position of its triggering flow); a finding whose Src sent no flow in the
// stream (a detector that blames a host for traffic it received) gets an
// episode of its own built from its evidence. All runs of a source with no
// finding are dropped.
//
// "First seen" is the earliest Start and "last seen" the latest End of the
// source's flows in the run (every flow of the source, scan-relevant or not:
// flows are not classified before a detector fires, so the run starts with
// the source's first flow after a quiet period of at least Gap). Flows,
// packets, bytes, the TCP-flags summary, distinct targets and ports, the
// most hit ports and the sample of targets are over the same flows.
//
// # Memory
//
// Per source the accountant keeps one open run: fixed counters (about 150
// bytes) plus exact sets of destinations and destination ports, each capped
// at Config.MaxTargets / MaxPorts entries (after the cap, new keys are not
// added and the episode says Truncated). A run that has ended (no flow of its
// source for Gap of stream time) is freed once FindingLag further flows have
// been read: dropped when no finding points at it, else built into its
// episode there and then (the same episode Result would build), so memory
// follows the active sources, not the whole archive or every source ever
// flagged. Detectors must therefore deliver a finding within FindingLag
// flows of its triggering flow; a later finding still makes an episode, from
// its own evidence, flagged Partial.
package episode

import (
	"fmt"
	"net/netip"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/flow"
)

// Config holds every knob; the zero value means the defaults.
type Config struct {
	Gap           int64          // ms of silence that splits a source's runs; 0 = 3_600_000 (1 h)
	Local         []netip.Prefix // local networks: targets are counted local or remote
	SampleTargets int            // targets listed per episode (first K sorted); 0 = 10
	TopPorts      int            // most hit ports per episode; 0 = 5
	MaxTargets    int            // distinct destinations kept per run; 0 = 65536
	MaxPorts      int            // distinct destination ports kept per run; 0 = 65536
	FindingLag    uint64         // flows after which a finished run without findings is freed; 0 = 1<<20
	TopTargets    int            // rows of the targets views; 0 = 20

	// Suppress suggestions (see Suggestion).
	ServiceShare float64 // share of the episode's flows that must look like service replies; 0 = 0.6
	ScanShare    float64 // share of TCP flows without ACK above which a host is never suggested; 0 = 0.05
	MinPeers     int     // distinct peers a service host must answer; 0 = 20

	// Follow-up commands.
	Archive string // path printed in the commands; "" = "ARCHIVE"

	// Shard restricts the accounting to the flows of its sources (the
	// flow positions still count every flow), so that the parts of a
	// split run merge into one run's result (MergePart).
	Shard analyze.Shard
}

// Validate refuses negative sizes, shares and lags (zero takes the
// default).
func (c Config) Validate() error {
	if c.Gap < 0 || c.SampleTargets < 0 || c.TopPorts < 0 || c.MaxTargets < 0 || c.MaxPorts < 0 || c.TopTargets < 0 ||
		c.ServiceShare < 0 || c.ScanShare < 0 || c.MinPeers < 0 {
		return fmt.Errorf("episodes: gap %d ms, sample %d, top ports %d, max targets %d, max ports %d, top targets %d, service share %v, scan share %v, min peers %d: none may be negative",
			c.Gap, c.SampleTargets, c.TopPorts, c.MaxTargets, c.MaxPorts, c.TopTargets, c.ServiceShare, c.ScanShare, c.MinPeers)
	}
	return c.Shard.Validate()
}

// DetectorRule is one rule of one detector that fired in an episode.
type DetectorRule struct {
	Detector  string       // "dscan", "weighted-ports", "trw", "heuristics"
	Kind      analyze.Kind // host-scan, port-scan, ...
	Rule      string       // e.g. "destinations >= D"
	Threshold float64      // the value compared with
	Value     float64      // the largest measured value among the findings
	Count     int          // findings of this (detector, kind, rule)
	First     int64        // Time of the first of these findings (ms)
	Score     float64      // detector-specific (TRW likelihood ratio, scanlogd weight); of the first finding
	Attempts  int          // TRW attempts of the first finding
}

// PortCount is a port with the number of flows that hit it.
type PortCount struct {
	Port  uint16
	Proto uint8 // 0 when the port was only seen as finding evidence
	Flows uint64
}

// Episode is one row of the scanners table.
type Episode struct {
	Src netip.Addr
	// Kind is the summary: "host scan", "port scan", "both" (host and port
	// scan), or, when other detectors fired, the dscan summary (if any)
	// followed by their kinds, e.g. "host scan + trw-scan".
	Kind      string
	Kinds     []analyze.Kind // distinct kinds of the attached findings, sorted
	Detectors []string       // distinct detectors, sorted
	Rules     []DetectorRule // sorted by detector, kind, rule

	First, Last           int64 // ms since the epoch; see the package doc for "first seen"
	Flows, Packets, Bytes uint64

	Targets      int          // distinct destinations (at least, when Truncated)
	LocalTargets int          // of Targets, inside Config.Local
	Ports        int          // distinct destination ports
	TopPorts     []PortCount  // most hit destination ports (by flows, then port)
	Sample       []netip.Addr // first SampleTargets targets in address order
	Flags        string       // scanlogd-style "fsrpauxy" summary over TCP flows; "" when none
	TCPFlows     uint64
	NoAckFlows   uint64 // TCP flows without ACK (SYN-only, SYN+RST, FIN/NULL/XMAS probes)
	// Replied counts the targets that answered a UDP, TCP SYN or ICMP
	// echo probe with a flow of their own back to the source: UDP from a
	// port the episode probed, a SYN-ACK from such a port to a source
	// none of whose TCP flows carried ACK (a SYN scan), or an echo-reply
	// to its echo-requests, starting no later than ReplyWindow after the
	// source's latest flow (replies.go). A connect scan's answers show in
	// NoAckFlows instead. RepliedProbes counts the distinct (target,
	// port) pairs answered, ICMP echo as one port.
	Replied, RepliedProbes int

	Truncated bool // a set hit MaxTargets/MaxPorts
	Partial   bool // built (partly) from finding evidence only: flows were not accounted

	Findings int // number of findings attached

	// Service: the source is in Result.Suppress, so this episode most
	// likely is a server answering its clients, not a scan.
	Service bool

	FollowUp FollowUp
}

// FollowUp holds ready-to-run commands that pull an episode's flows.
type FollowUp struct {
	// FilterName is the definition name used with flow-nfilter -F.
	FilterName string
	// FilterFile is the text to put into the flow-nfilter config file.
	FilterFile string
	// FlowTools is `flow-cat ARCHIVE | flow-nfilter -f FILE -F NAME | flow-print`.
	FlowTools string
	// Nfdump is `nfdump -R ARCHIVE -t WINDOW 'src ip A'` (-r for a file),
	// one line per nfcapd path.
	Nfdump string
	// Flowsift is `flowsift convert ... | awk ...` for inputs neither tool
	// reads (Parquet, CSV).
	Flowsift string
}

// Scanner is one scanner's contact with a target.
type Scanner struct {
	Src         netip.Addr
	First, Last int64 // the episode's first and last seen
}

// Target is a scanned host (or port) with who scanned it and when.
type Target struct {
	Addr     netip.Addr // zero for a port row
	Port     uint16     // set for a port row
	Scanners []Scanner  // sorted by First, then Src; each source listed once (its first episode)
	Episodes int        // episodes that hit it
	Flows    uint64     // flows of those episodes to it (hosts) or hitting it (ports)
	// A port row counts every protocol under its number; of its Flows,
	// these were ICMP and ICMPv6, whose type and code the port carries
	// (type<<8 | code), so that the report can name them.
	ICMPFlows, ICMPv6Flows uint64
}

// Excessive is a -O/-P/-T trigger with its flow.
type Excessive struct {
	Kind      analyze.Kind
	Detector  string
	Index     uint64
	Time      int64
	Rule      string
	Threshold float64
	Value     float64
	Flow      flow.Record
}

// Suggestion is a suppress-list entry for a host whose many peers look like
// service, not scanning. Line is in flow-dscan's syntax
// `IP protocol srcport dstport` (`-` = any) and goes into the .src file
// (the host is the flows' srcaddr); Comment is the evidence, a line that
// starts with "# ", to paste above it.
type Suggestion struct {
	Addr    netip.Addr
	File    string // "src"
	Proto   int    // -1 = any
	SrcPort int    // -1 = any
	DstPort int    // -1 = any (always -1 today)
	Line    string
	Comment string

	Peers       int     // distinct destinations answered
	Flows       uint64  // flows of the episodes
	ServiceRate float64 // share of flows that look like service replies
	NoAckRate   float64 // share of TCP flows without ACK (0 for a suggested host)
}

// Result is everything the report needs from this package.
type Result struct {
	Episodes    []Episode    // sorted by First, then Src
	TargetHosts []Target     // most scanned hosts: by episodes desc, flows desc, address; the sources in Suppress left out
	TargetPorts []Target     // most scanned ports: same order, then port; the same sources left out
	Excessive   []Excessive  // by Index, then kind, then detector
	Suppress    []Suggestion // by address
}
