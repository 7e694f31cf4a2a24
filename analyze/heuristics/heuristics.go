// Package heuristics holds the rules of the flow-tools mailing-list post
// (seed 003) as a streaming detector: fan-out to many addresses, talking to
// special-purpose networks, addresses outside the address plan, many
// SYN-only or SYN+RST flows, and ports a host's role does not allow.
//
// Counting rules (fan-out, SYN-only) run over tumbling windows of stream
// time, one flow-capture file (15 min) by default, as the post ran its
// script over one file: a busy client's distinct peers grow with the length
// of an archive, not with its behaviour. Each rule reports a host at most
// once per run, with the evidence of the window that fired. Every rule
// applies to IPv6 flows as to IPv4.
package heuristics

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/flow"
)

// Range is one block of the address plan.
type Range struct {
	Name, Kind  string // kind "static" or "dhcp"
	First, Last netip.Addr
}

// Contains says whether a lies in the range.
func (r Range) Contains(a netip.Addr) bool {
	return r.First.BitLen() == a.BitLen() && r.First.Compare(a) <= 0 && a.Compare(r.Last) <= 0
}

// PortRule allows one protocol and a port range; Proto 0 is any protocol,
// and a rule for ICMP (1, 58) ignores ports.
type PortRule struct {
	Proto  uint8
	Lo, Hi uint16
}

func (p PortRule) match(proto uint8, port uint16) bool {
	if p.Proto != 0 && p.Proto != proto {
		return false
	}
	if proto == 1 || proto == 58 {
		return true
	}
	return p.Lo <= port && port <= p.Hi
}

// Role says which ports its hosts may open connections to (Connects) and
// which they answer on (Serves: their replies from those ports are
// allowed). Only flows the host sends are checked.
type Role struct {
	Name     string
	Hosts    []netip.Addr
	Connects []PortRule
	Serves   []PortRule
}

// Config of the rules; zero thresholds take the defaults, an empty Plan
// switches the plan rule off, an empty Roles the role rule.
type Config struct {
	FanOut   int   // more than this many distinct peers in a window (100)
	SynOnly  int   // more than this many SYN-only/SYN+RST flows in a window (100)
	WindowMS int64 // window of the counting rules, ms (900000)
	// Whitelist: a flow from or to a listed network is not counted by the
	// fan-out rule (the post's white-list).
	Whitelist []netip.Prefix
	Local     []netip.Prefix // the site's networks
	Special   []netip.Prefix // special-purpose networks (nil = DefaultSpecial)
	Plan      []Range
	Roles     []Role
	MaxShown  int // targets kept as evidence (64)
}

// DefaultSpecial is the part of the IANA IPv4 and IPv6 special-purpose
// address registries that should never be a destination on a site's links:
// "this network", loopback, link-local, IETF protocol assignments,
// documentation, benchmarking and reserved space. Private-use (RFC 1918),
// shared (100.64/10) and unique-local (fc00::/7) space are left out: they
// are routinely some site's own. Multicast is not in the registries.
func DefaultSpecial() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range DefaultSpecialText {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// DefaultSpecialText is DefaultSpecial as text (for the policy file).
var DefaultSpecialText = []string{
	"0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "192.0.0.0/24", "192.0.2.0/24",
	"198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4",
	"::/128", "::1/128", "::ffff:0:0/96", "100::/64", "2001:2::/48", "2001:db8::/32",
	"3fff::/20", "fe80::/10",
}

// DefaultConfig holds the post's thresholds.
func DefaultConfig() Config {
	return Config{FanOut: 100, SynOnly: 100, WindowMS: 900000, MaxShown: 64}
}

type hostState struct {
	fired  uint8        // rules reported for this host (the run's, at window start, plus this window's)
	peers  int          // distinct peers in the window
	sample []netip.Addr // the first of them, as evidence
	syn    int
	synDst []netip.Addr
}

const (
	ruleFanOut = 1 << iota
	ruleBogon
	rulePlan
	ruleSyn
	rulePort
)

// Detector is fed flows in stream order. Not safe for concurrent use.
type Detector struct {
	cfg    Config
	sink   analyze.Sink
	wlHost addrMap[bool]
	wlNet  []netip.Prefix
	wl     octets      // pre-filter of wlHost and wlNet
	wl4    [][2]uint32 // the IPv4 white-list (hosts and networks) as ranges
	plan4  [][2]uint32 // the IPv4 ranges of the plan, as integers
	roles  addrMap[*Role]
	// hosts indexes slab, the counters of the window's hosts; both are
	// emptied when a window starts, and slab keeps its storage.
	hosts          addrMap[int32]
	slab           []hostState
	pairs          pairSet        // unordered pairs seen in the window (fan-out)
	fired          addrMap[uint8] // rules reported per host, whole run
	heard          map[pkey]struct{}
	window         int64
	index          uint64
	special, local octets
}

// New makes a detector that reports to sink.
func New(cfg Config, sink analyze.Sink) *Detector {
	d0 := DefaultConfig()
	cfg.FanOut = analyze.Positive(cfg.FanOut, d0.FanOut)
	cfg.SynOnly = analyze.Positive(cfg.SynOnly, d0.SynOnly)
	cfg.WindowMS = analyze.Positive(cfg.WindowMS, d0.WindowMS)
	cfg.MaxShown = analyze.Positive(cfg.MaxShown, d0.MaxShown)
	if cfg.Special == nil {
		cfg.Special = DefaultSpecial()
	}
	d := &Detector{cfg: cfg, sink: sink, wlHost: newAddrMap[bool](), roles: newAddrMap[*Role](),
		hosts: newAddrMap[int32](), pairs: newPairSet(), fired: newAddrMap[uint8](), heard: map[pkey]struct{}{},
		window: -1 << 62, special: octetsOf(cfg.Special), local: octetsOf(cfg.Local)}
	var wl []netip.Prefix
	for _, p := range cfg.Whitelist {
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		p = p.Masked()
		wl = append(wl, p)
		if p.Addr().Is4() {
			lo := flow.AddrU32(p.Addr())
			d.wl4 = append(d.wl4, [2]uint32{lo, lo | uint32(uint64(1)<<(32-p.Bits())-1)})
			continue
		}
		if p.IsSingleIP() {
			d.wlHost.Set(p.Addr(), true)
		} else {
			d.wlNet = append(d.wlNet, p)
		}
	}
	d.wl = octetsOf(wl)
	for _, r := range cfg.Plan {
		if r.First.Is4() && r.Last.Is4() {
			d.plan4 = append(d.plan4, [2]uint32{flow.AddrU32(r.First), flow.AddrU32(r.Last)})
		}
	}
	for i := range cfg.Roles {
		for _, h := range cfg.Roles[i].Hosts {
			d.roles.Set(h, &cfg.Roles[i])
		}
	}
	return d
}

// Add feeds a batch in stream order.
func (d *Detector) Add(b flow.Batch) {
	for i := range b {
		d.index++
		d.one(&b[i])
	}
}

func in(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// white says whether a is white-listed; an IPv4-mapped IPv6 address is
// the IPv4 address here, for hosts and networks alike.
func (d *Detector) white(a netip.Addr) bool {
	a = a.Unmap()
	if !d.wl.may(a) {
		return false
	}
	if a.Is4() {
		// A white-list is short: comparing integers beats hashing.
		return inRanges(d.wl4, flow.AddrU32(a))
	}
	if _, ok := d.wlHost.Get(a); ok {
		return true
	}
	return len(d.wlNet) > 0 && in(d.wlNet, a)
}

// icmpReply: echo reply and the error messages, which only ever answer.
func icmpReply(r *flow.Record) bool {
	t := r.DstPort >> 8
	if r.Proto == 1 {
		switch t {
		case 0, 3, 4, 5, 11, 12, 14, 16, 18:
			return true
		}
	}
	if r.Proto == 58 {
		return t < 128 || t == 129
	}
	return false
}

// reply guesses that a flow answers one from its destination: ICMP
// answers, or a service port talking to an ephemeral one.
func reply(r *flow.Record) bool {
	if r.Proto == 1 || r.Proto == 58 {
		return icmpReply(r)
	}
	return r.SrcPort < 1024 && r.DstPort >= 1024
}

// host returns a's counters in this window, valid until the next call
// (the slab may grow). They carry a copy of its whole-run fired rules, so
// the per-flow rules read them without a second table lookup.
func (d *Detector) host(a netip.Addr) *hostState {
	i, ok := d.hosts.Get(a)
	if !ok {
		i = int32(len(d.slab))
		f, _ := d.fired.Get(a)
		if n := len(d.slab); n < cap(d.slab) {
			d.slab = d.slab[:n+1] // emptied at the window's start
			d.slab[n].fired = f
		} else {
			d.slab = append(d.slab, hostState{fired: f})
		}
		d.hosts.Set(a, i)
	}
	return &d.slab[i]
}

// firedFor says whether rule already reported a for this run.
func (d *Detector) firedFor(a netip.Addr, rule uint8) bool {
	f, _ := d.fired.Get(a)
	return f&rule != 0
}

func (d *Detector) isSpecial(a netip.Addr) bool {
	return d.special.may(a) && in(d.cfg.Special, a) && !(d.local.may(a) && in(d.cfg.Local, a))
}

func (d *Detector) isLocal(a netip.Addr) bool { return d.local.may(a) && in(d.cfg.Local, a) }

func (d *Detector) one(r *flow.Record) {
	if w := r.End / d.cfg.WindowMS; w != d.window {
		// A new window: the counting rules start again.
		d.window = w
		d.hosts.Clear()
		// The hosts' evidence lists stay with their slots for the next
		// window's hosts: on a day of background radiation, a new list
		// for nearly every source of every window was 0.5 GB of garbage.
		for i := range d.slab {
			d.slab[i] = hostState{sample: d.slab[i].sample[:0], synDst: d.slab[i].synDst[:0]}
		}
		d.slab = d.slab[:0]
		clear(d.heard)
		d.pairs.clear()
	}
	d.fanOut(r)
	d.bogon(r)
	d.plan(r)
	d.synOnly(r)
	d.rolePort(r)
}

func (d *Detector) fanOut(r *flow.Record) {
	if d.wl.any && (d.white(r.Src) || d.white(r.Dst)) {
		return
	}
	if !d.pairs.add(r.Src, r.Dst) {
		return
	}
	if r.Src != r.Dst {
		d.peer(r, r.Src, r.Dst)
	}
	d.peer(r, r.Dst, r.Src)
}

func (d *Detector) peer(r *flow.Record, a, b netip.Addr) {
	h := d.host(a)
	if h.fired&ruleFanOut != 0 {
		return
	}
	h.peers++
	// Only hosts near the threshold keep evidence: the last MaxShown
	// peers before it fires. Most hosts never get there.
	if h.peers <= d.cfg.FanOut+1-d.cfg.MaxShown {
		return
	}
	h.sample = append(h.sample, b)
	if h.peers > d.cfg.FanOut {
		t := h.sample
		h.sample = nil
		d.emit(r, a, ruleFanOut, analyze.FanOut, fmt.Sprintf("distinct peers > %d in a window", d.cfg.FanOut),
			float64(d.cfg.FanOut), float64(h.peers), t, nil, "")
		h.fired |= ruleFanOut
	}
}

func (d *Detector) bogon(r *flow.Record) {
	if d.isSpecial(r.Src) {
		d.heard[pairKey(addrKey(r.Src), addrKey(r.Dst))] = struct{}{}
	}
	if !d.isSpecial(r.Dst) || reply(r) {
		return
	}
	if _, ok := d.heard[pairKey(addrKey(r.Dst), addrKey(r.Src))]; ok {
		return // answering a flow from that address
	}
	if d.firedFor(r.Src, ruleBogon) {
		return
	}
	var pfx string
	for _, p := range d.cfg.Special {
		if p.Contains(r.Dst) {
			pfx = p.String()
			break
		}
	}
	d.emit(r, r.Src, ruleBogon, analyze.Bogon, "destination in special-purpose network", 0, 1,
		[]netip.Addr{r.Dst}, []uint16{r.DstPort}, "network "+pfx)
}

// inRanges says whether v lies in one of the inclusive ranges.
func inRanges(rs [][2]uint32, v uint32) bool {
	for _, r := range rs {
		if r[0] <= v && v <= r[1] {
			return true
		}
	}
	return false
}

// inPlan: IPv4 ranges compare as integers, the rest with Range.Contains.
func (d *Detector) inPlan(a netip.Addr) bool {
	if a.Is4() {
		return inRanges(d.plan4, flow.AddrU32(a))
	}
	for _, p := range d.cfg.Plan {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (d *Detector) plan(r *flow.Record) {
	if len(d.cfg.Plan) == 0 || !d.isLocal(r.Src) {
		return
	}
	if d.inPlan(r.Src) {
		return
	}
	if d.firedFor(r.Src, rulePlan) {
		return
	}
	d.emit(r, r.Src, rulePlan, analyze.OutsidePlan, "source in local networks but in no plan range", 0, 1,
		[]netip.Addr{r.Dst}, nil, "")
}

func (d *Detector) synOnly(r *flow.Record) {
	if r.Proto != 6 || (r.TCPFlags != flow.TCPSyn && r.TCPFlags != flow.TCPSyn|flow.TCPRst) {
		return
	}
	h := d.host(r.Src)
	if h.fired&ruleSyn != 0 {
		return
	}
	h.syn++
	if len(h.synDst) < d.cfg.MaxShown && !slices.Contains(h.synDst, r.Dst) {
		if h.synDst == nil {
			// Room for a background source's three probes at once:
			// growing from one took three allocations of most sources.
			h.synDst = make([]netip.Addr, 0, min(4, d.cfg.MaxShown))
		}
		h.synDst = append(h.synDst, r.Dst)
	}
	if h.syn > d.cfg.SynOnly {
		d.emit(r, r.Src, ruleSyn, analyze.SynOnly, fmt.Sprintf("SYN-only or SYN+RST flows > %d in a window", d.cfg.SynOnly),
			float64(d.cfg.SynOnly), float64(h.syn), slices.Clone(h.synDst), nil, "")
		h.synDst = nil
		h.fired |= ruleSyn
	}
}

func allowed(rules []PortRule, proto uint8, port uint16) bool {
	for _, p := range rules {
		if p.match(proto, port) {
			return true
		}
	}
	return false
}

func (d *Detector) rolePort(r *flow.Record) {
	if d.roles.Len() == 0 {
		return
	}
	role, _ := d.roles.Get(r.Src)
	if role == nil {
		return
	}
	if d.firedFor(r.Src, rulePort) {
		return
	}
	if allowed(role.Connects, r.Proto, r.DstPort) || allowed(role.Serves, r.Proto, r.SrcPort) ||
		((r.Proto == 1 || r.Proto == 58) && icmpReply(r)) {
		return
	}
	d.emit(r, r.Src, rulePort, analyze.PolicyPort, "port not allowed for role "+role.Name, 0, float64(r.DstPort),
		[]netip.Addr{r.Dst}, []uint16{r.DstPort}, fmt.Sprintf("role %s, proto %d", role.Name, r.Proto))
}

func (d *Detector) emit(r *flow.Record, host netip.Addr, rule uint8, k analyze.Kind, text string, thr, val float64,
	targets []netip.Addr, ports []uint16, note string) {
	f, _ := d.fired.Get(host)
	d.fired.Set(host, f|rule)
	slices.SortFunc(targets, func(a, b netip.Addr) int { return a.Compare(b) })
	if len(targets) > d.cfg.MaxShown {
		targets = targets[:d.cfg.MaxShown]
	}
	d.sink(analyze.Finding{
		Detector: "heuristics", Kind: k, Src: host, Dst: r.Dst, Time: r.Start, Index: d.index, Flow: *r,
		Rule: text, Threshold: thr, Value: val, Targets: targets, Ports: ports, Note: note,
	})
}

// Validate refuses negative thresholds and windows (zero takes the
// default).
func (c Config) Validate() error {
	if c.FanOut < 0 || c.SynOnly < 0 || c.WindowMS < 0 || c.MaxShown < 0 {
		return fmt.Errorf("heuristics: fan-out %d, SYN-only %d, window %d ms, shown %d: none may be negative",
			c.FanOut, c.SynOnly, c.WindowMS, c.MaxShown)
	}
	return nil
}

// Settings describes the configuration for a report.
func (c Config) Settings() []analyze.Setting {
	return []analyze.Setting{{Name: "heuristics (mailing list)", Value: fmt.Sprintf("fan-out > %d peers, SYN-only > %d flows per %d ms window; %d special networks, %d plan ranges, %d roles, %d white-listed",
		c.FanOut, c.SynOnly, c.WindowMS, len(c.Special), len(c.Plan), len(c.Roles), len(c.Whitelist))}}
}
