// Package weighted applies scanlogd's rule to flow start times: a source
// that touches enough distinct ports, weighted 3 for privileged and 1 for
// other ports, with no more than a few seconds between accesses, is a fast
// port scan.
//
// Counting follows scanlogd: the port list is kept per SOURCE address (its
// log line reads "saddr to daddr [and others,] ports ..."), so a port counts
// once per source whatever destination it was sent to, and destinations
// are listed as evidence. Only flows that look like connection attempts
// count: TCP flows that never carried ACK (SYN, SYN+RST, FIN, NULL, Xmas
// probes) and UDP flows that are not replies from a service port
// (src < 1024 <= dst). TCP with ACK is an established conversation or a
// server's answer; ICMP has no ports. IPv6 flows are treated like IPv4.
package weighted

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/analyze/internal/addrkey"
	"github.com/flowsift/flowsift/flow"
)

// Config holds scanlogd's constants; zero fields take the defaults.
type Config struct {
	Threshold     int   // total weight that makes a scan (21)
	PrivWeight    int   // weight of a port below 1024 (3)
	OtherWeight   int   // weight of other ports (1)
	MaxGapMS      int64 // longest pause between accesses, ms (3000)
	MaxPortsShown int   // ports and targets kept as evidence (64)
}

// DefaultConfig is scanlogd's: 7 privileged or 21 other ports, 3 s.
func DefaultConfig() Config {
	return Config{Threshold: 21, PrivWeight: 3, OtherWeight: 1, MaxGapMS: 3000, MaxPortsShown: 64}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	c.Threshold = analyze.Positive(c.Threshold, d.Threshold)
	c.PrivWeight = analyze.Positive(c.PrivWeight, d.PrivWeight)
	c.OtherWeight = analyze.Positive(c.OtherWeight, d.OtherWeight)
	c.MaxGapMS = analyze.Positive(c.MaxGapMS, d.MaxGapMS)
	c.MaxPortsShown = analyze.Positive(c.MaxPortsShown, d.MaxPortsShown)
	return c
}

type proto struct {
	p    uint8
	port uint16
}

type source struct {
	last     int64 // start of the last counted access, ms
	weight   int
	ports    []proto // distinct (proto, port), in access order
	targets  []netip.Addr
	flagsAnd uint8
	flagsOr  uint8
	fired    bool
}

// Detector is fed flows in stream order. Not safe for concurrent use.
type Detector struct {
	cfg   Config
	sink  analyze.Sink
	srcs  addrkey.AddrMap[*source]
	free  []*source
	index uint64
	clock int64 // highest flow start seen
	swept int64
	// since is the flows seen since the last sweep, and wait the sources
	// it kept: a sweep visits every source, so the next waits for as many
	// flows.
	since, wait int
}

// New makes a detector that reports to sink.
func New(cfg Config, sink analyze.Sink) *Detector {
	return &Detector{cfg: cfg.withDefaults(), sink: sink, srcs: addrkey.NewAddrMap[*source]()}
}

// Add feeds a batch in stream order.
func (d *Detector) Add(b flow.Batch) {
	for i := range b {
		d.index++
		d.one(&b[i])
	}
}

// Tracked is the number of sources held (for tests of the memory bound).
func (d *Detector) Tracked() int { return d.srcs.Len() }

func attempt(r *flow.Record) bool {
	switch r.Proto {
	case 6:
		return r.TCPFlags&flow.TCPAck == 0
	case 17:
		return !(r.SrcPort < 1024 && r.DstPort >= 1024)
	}
	return false
}

func (d *Detector) one(r *flow.Record) {
	if r.Start > d.clock {
		d.clock = r.Start
	}
	// Sources idle longer than the gap can never continue their run:
	// dropping them keeps memory to the sources active in the last gap
	// (or the last as many flows as sources, whichever is longer: a sweep
	// every 3 s of a busy stream visited the table far more often than
	// it changed). A source kept past its gap is reset at its next flow,
	// so when a sweep runs changes no result.
	d.since++
	if d.clock-d.swept > d.cfg.MaxGapMS && d.since >= d.wait {
		d.sweep()
	}
	if !attempt(r) {
		return
	}
	s, _ := d.srcs.Get(r.Src)
	if s != nil && r.Start-s.last > d.cfg.MaxGapMS {
		d.reset(s)
	}
	if s == nil {
		if n := len(d.free); n > 0 {
			s = d.free[n-1]
			d.free = d.free[:n-1]
		} else {
			s = &source{}
		}
		d.reset(s)
		d.srcs.Set(r.Src, s)
	}
	// Any attempt, repeated port or not, keeps the run going: the rule
	// bounds the pause between accesses.
	if r.Start > s.last {
		s.last = r.Start
	}
	k := proto{r.Proto, r.DstPort}
	if slices.Contains(s.ports, k) {
		return
	}
	s.ports = append(s.ports, k)
	if len(s.targets) < d.cfg.MaxPortsShown && !slices.Contains(s.targets, r.Dst) {
		s.targets = append(s.targets, r.Dst)
	}
	if r.Proto == 6 {
		s.flagsAnd &= r.TCPFlags
		s.flagsOr |= r.TCPFlags
	}
	if r.DstPort < 1024 {
		s.weight += d.cfg.PrivWeight
	} else {
		s.weight += d.cfg.OtherWeight
	}
	if !s.fired && s.weight >= d.cfg.Threshold {
		s.fired = true
		d.emit(r, s)
	}
}

func (d *Detector) reset(s *source) {
	s.weight, s.fired = 0, false
	s.ports, s.targets = s.ports[:0], s.targets[:0]
	s.flagsAnd, s.flagsOr = 0xff, 0
	s.last = -1 << 62
}

func (d *Detector) sweep() {
	d.swept, d.since = d.clock, 0
	d.srcs.DeleteFunc(func(s *source) bool {
		if d.clock-s.last > d.cfg.MaxGapMS {
			d.free = append(d.free, s)
			return true
		}
		return false
	})
	if len(d.free) > 4096 {
		d.free = d.free[:4096]
	}
	d.wait = d.srcs.Len()
}

// Flags renders TCP flags scanlogd's way, bits from FIN (bit 0) to CWR
// (bit 7): uppercase = set in every flow, lowercase = in none, ? = varied.
func Flags(and, or uint8) string {
	const names = "fsrpauec"
	var b strings.Builder
	for i := 0; i < 8; i++ {
		bit := uint8(1) << i
		switch {
		case and&bit != 0:
			b.WriteByte(names[i] - 'a' + 'A')
		case or&bit == 0:
			b.WriteByte(names[i])
		default:
			b.WriteByte('?')
		}
	}
	return b.String()
}

func (d *Detector) emit(r *flow.Record, s *source) {
	ports := make([]uint16, 0, len(s.ports))
	for i, p := range s.ports {
		if i == d.cfg.MaxPortsShown {
			break
		}
		ports = append(ports, p.port)
	}
	slices.Sort(ports)
	ports = slices.Compact(ports)
	targets := slices.Clone(s.targets)
	slices.SortFunc(targets, func(a, b netip.Addr) int { return a.Compare(b) })
	note := "ports " + strconv.Itoa(len(s.ports))
	if s.flagsOr != 0 || s.flagsAnd != 0xff {
		note += ", flags " + Flags(s.flagsAnd, s.flagsOr)
	}
	if len(s.targets) > 1 {
		note += ", " + strconv.Itoa(len(s.targets)) + " destinations"
	}
	d.sink(analyze.Finding{
		Detector: "weighted-ports", Kind: analyze.FastScan,
		Src: r.Src, Dst: r.Dst, Time: r.Start, Index: d.index, Flow: *r,
		Rule: "weighted ports within gap >= threshold", Threshold: float64(d.cfg.Threshold),
		Value: float64(s.weight), Score: float64(s.weight), Attempts: len(s.ports),
		Targets: targets, Ports: ports, Note: note,
	})
}

// Validate refuses negative weights, thresholds and gaps (zero takes the
// default).
func (c Config) Validate() error {
	if c.Threshold < 0 || c.PrivWeight < 0 || c.OtherWeight < 0 || c.MaxGapMS < 0 || c.MaxPortsShown < 0 {
		return fmt.Errorf("weighted ports: threshold %d, weights %d/%d, gap %d ms, ports shown %d: none may be negative",
			c.Threshold, c.PrivWeight, c.OtherWeight, c.MaxGapMS, c.MaxPortsShown)
	}
	return nil
}

// Settings describes the configuration for a report.
func (c Config) Settings() []analyze.Setting {
	return []analyze.Setting{{Name: "weighted ports (scanlogd)", Value: fmt.Sprintf("weight >= %d, privileged port %d, other %d, gap <= %d ms",
		c.Threshold, c.PrivWeight, c.OtherWeight, c.MaxGapMS)}}
}
