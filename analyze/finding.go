// Package analyze holds the detectors (the flow-dscan state machine and the
// newer ones) and the statistics computed in the same pass. Detectors take
// flows from ingest's ordered stream and emit typed findings; they do no I/O
// of their own.
package analyze

import (
	"net/netip"

	"github.com/flowsift/flowsift/flow"
)

// Kind is what a finding says a source did.
type Kind string

const (
	HostScan        Kind = "host-scan"        // many destinations
	PortScan        Kind = "port-scan"        // many ports of one destination
	ExcessiveOctets Kind = "excessive-octets" // -O trigger
	ExcessivePkts   Kind = "excessive-packets"
	ExcessiveTime   Kind = "excessive-time"
	FastScan        Kind = "fast-scan" // weighted ports in time (scanlogd)
	TRWScan         Kind = "trw-scan"  // sequential hypothesis test
	FanOut          Kind = "fan-out"   // talks to more than N distinct hosts
	Bogon           Kind = "bogon"     // talks to special-purpose networks
	OutsidePlan     Kind = "outside-plan"
	SynOnly         Kind = "syn-only"    // many SYN-only or SYN+RST flows
	PolicyPort      Kind = "policy-port" // port not allowed for the host's role
)

// Finding is one alert with the evidence a report needs. Detectors fill
// what they know; zero values mean "not applicable".
type Finding struct {
	Detector string // "dscan", "weighted-ports", "trw", "heuristics"
	Kind     Kind
	Src      netip.Addr
	Dst      netip.Addr // the target for a port scan, the flow's dst otherwise

	// Time is the absolute start of the triggering flow, ms since the epoch
	// (Record.Start). Index is the 1-based position of that flow in the
	// replayed stream (flow-dscan's "total"), so findings sort the same way
	// whatever -j.
	Time  int64
	Index uint64
	// Flow is the flow that triggered. vscan and TRW, which hold their
	// contacts for a reply window, fill only its addresses, ports,
	// protocol and start (a Brief); the reports read Flow of dscan's
	// findings only (its excessive flows, the flow-dscan log).
	Flow flow.Record

	// Rule names the rule that fired and Threshold the value it compared
	// with, e.g. Rule "destinations >= D", Threshold 200.
	Rule      string
	Threshold float64
	Value     float64 // the measured value (destinations, ports, LR, ...)

	Targets []netip.Addr // destinations seen so far (sorted, possibly a sample)
	Ports   []uint16     // ports seen so far (sorted)

	// Detector-specific numbers: TRW likelihood ratio and attempts, scanlogd
	// weight, ...
	Score    float64
	Attempts int
	Note     string
}

// Sink receives findings in the order a detector emits them.
type Sink func(Finding)

// Brief is what a detector keeps of a flow it holds while waiting for a
// reply: the fields a finding shows, 64 bytes where a flow.Record is 256,
// copied for every contact queued.
type Brief struct {
	Src, Dst         netip.Addr
	Start            int64
	SrcPort, DstPort uint16
	Proto            uint8
}

// BriefOf keeps r's brief.
func BriefOf(r *flow.Record) Brief {
	return Brief{Src: r.Src, Dst: r.Dst, Start: r.Start, SrcPort: r.SrcPort, DstPort: r.DstPort, Proto: r.Proto}
}

// Record is the flow with only the brief's fields, for Finding.Flow.
func (b *Brief) Record() flow.Record {
	return flow.Record{Start: b.Start, Src: b.Src, Dst: b.Dst, SrcPort: b.SrcPort, DstPort: b.DstPort, Proto: b.Proto}
}
