// Package dscan is flow-dscan's scan detector: a per-source table of
// destinations and ports, fed flows in stream order, that reports host
// scans, port scans and excessive flows. Two engines share the rules:
// Compat reproduces flow-tools 0.68 exactly, quirks included (see
// dscan-semantics); Engine (the default) fixes the quirks, ages exactly and
// can be sharded by source. Neither does I/O: flows come in as batches,
// events (findings, and compat's ager message) go out through a callback,
// and state and suppress lists are read from and written to streams the
// caller opens.
package dscan

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/flow"
)

// Defaults of flow-dscan 0.68 (the code's, not the man page's: depth is 200).
const (
	DefaultDepth       = 200
	DefaultPortTrigger = 64
	DefaultAgerTimeout = 90000
)

// Config holds flow-dscan's options.
type Config struct {
	Depth       int    // -D: destinations before a host scan
	PortTrigger int    // -S: ports below 1024 of one destination before a port scan
	AgerTimeout uint64 // -t: flows a destination lives without being seen; 0 = no ager

	InputIf, OutputIf *IfList // -i, -I; nil = no filter
	Mcast             bool    // -m: ignore flows from or to 224.0.0.0/4
	WWWIn             bool    // -w: ignore TCP srcport 80 -> dstport > 1023
	WWWOut            bool    // -W: ignore TCP dstport 80 <- srcport > 1023

	// Triggers; 0 = off. A flow is dumped when its value is strictly greater.
	Octets, Packets uint64 // -O, -P
	Time            uint32 // -T, Last - First in ms (32-bit)

	Suppress *Suppress // nil = empty lists

	// Default engine only.
	MaxSources int // 0 = unbounded; else least-recently-seen sources are evicted
	// Sources restricts the default engine to part of the source space
	// (one machine's share of a split run): a source's findings depend
	// only on its own flows and the flow index, so the parts' findings
	// together are one run's (with MaxSources, each part evicts among
	// its own sources).
	Sources analyze.Shard
	Jobs    int // shards; 0 or 1 = one goroutine
}

// DefaultConfig returns flow-dscan's defaults.
func DefaultConfig() Config {
	return Config{Depth: DefaultDepth, PortTrigger: DefaultPortTrigger, AgerTimeout: DefaultAgerTimeout}
}

// IfList is an interface filter list: numbers and ranges ("1,4,10-20"),
// inverted by a leading "!".
type IfList struct {
	invert bool
	set    [65536 / 64]uint64
}

// ParseIfList parses flow-dscan's -i/-I syntax. Numbers may be written in C
// notation (0x1F, 017); a number of 65536 or more is an error.
func ParseIfList(s string) (*IfList, error) {
	l := &IfList{}
	body := s
	if strings.HasPrefix(body, "!") {
		l.invert = true
		body = body[1:]
	}
	if body == "" {
		return nil, fmt.Errorf("interface list %q is empty", s)
	}
	for _, part := range strings.Split(body, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := parseIf(lo)
		if err != nil {
			return nil, fmt.Errorf("interface list %q: %w", s, err)
		}
		b := a
		if isRange {
			if b, err = parseIf(hi); err != nil {
				return nil, fmt.Errorf("interface list %q: %w", s, err)
			}
		}
		if b < a {
			return nil, fmt.Errorf("interface list %q: range %s is backwards", s, part)
		}
		for i := a; i <= b; i++ {
			l.set[i/64] |= 1 << (i % 64)
		}
	}
	return l, nil
}

func parseIf(s string) (uint32, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("missing number")
	}
	n, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		return 0, fmt.Errorf("bad interface number %q", s)
	}
	if n >= 65536 {
		return 0, fmt.Errorf("interface number %s is 65536 or more", s)
	}
	return uint32(n), nil
}

// Has reports whether the list lets interface i through.
func (l *IfList) Has(i uint32) bool {
	in := i < 65536 && l.set[i/64]&(1<<(i%64)) != 0
	return in != l.invert
}

// filtered applies steps 2-4 of flow-dscan's per-flow work (interface,
// multicast and www filters), shared by both engines.
func (c *Config) filtered(r *flow.Record) bool {
	if c.InputIf != nil && !c.InputIf.Has(r.Input) {
		return true
	}
	if c.OutputIf != nil && !c.OutputIf.Has(r.Output) {
		return true
	}
	if c.Mcast && (isMcast(r.Src) || isMcast(r.Dst)) {
		return true
	}
	if r.Proto == 6 {
		if c.WWWIn && r.SrcPort == 80 && r.DstPort > 1023 {
			return true
		}
		if c.WWWOut && r.DstPort == 80 && r.SrcPort > 1023 {
			return true
		}
	}
	return false
}

// isMcast is 224.0.0.0/4 (and ff00::/8 for IPv6 flows).
func isMcast(a netip.Addr) bool { return a.IsMulticast() }

// triggers returns the excessive-flow findings kinds a flow trips, in
// flow-dscan's order (-O, -P, -T); each trips independently.
func (c *Config) triggers(r *flow.Record, fire func(kind int)) {
	if c.Octets != 0 && r.Octets > c.Octets {
		fire(trigOctets)
	}
	if c.Packets != 0 && r.Packets > c.Packets {
		fire(trigPackets)
	}
	if c.Time != 0 && r.Last-r.First > c.Time {
		fire(trigTime)
	}
}

const (
	trigOctets = iota
	trigPackets
	trigTime
)

// Validate refuses values no flow-dscan option can mean.
func (c Config) Validate() error {
	switch {
	case c.Depth < 0:
		return fmt.Errorf("dscan depth (-D) %d: must not be negative", c.Depth)
	case c.PortTrigger < 0:
		return fmt.Errorf("dscan port trigger (-S) %d: must not be negative", c.PortTrigger)
	case c.MaxSources < 0:
		return fmt.Errorf("dscan --max-sources %d: must not be negative", c.MaxSources)
	case c.Jobs < 0:
		return fmt.Errorf("dscan jobs %d: must not be negative", c.Jobs)
	}
	return c.Sources.Validate()
}

// Settings describes the default engine's thresholds for a report.
func (c Config) Settings() []analyze.Setting {
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	return []analyze.Setting{
		{Name: "dscan mode", Value: "default (quirks of flow-dscan 0.68 fixed)"},
		{Name: "dscan depth (-D)", Value: strconv.Itoa(c.Depth)},
		{Name: "dscan port trigger (-S)", Value: strconv.Itoa(c.PortTrigger)},
		{Name: "dscan ager timeout (-t, flows)", Value: u(c.AgerTimeout)},
		{Name: "excessive octets (-O)", Value: u(c.Octets)},
		{Name: "excessive packets (-P)", Value: u(c.Packets)},
		{Name: "excessive duration ms (-T)", Value: u(uint64(c.Time))},
	}
}
