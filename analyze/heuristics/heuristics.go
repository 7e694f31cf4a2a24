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
	cfg            Config
	sink           analyze.Sink
	wlHost         map[akey]bool
	wlNet          []netip.Prefix
	roles          map[netip.Addr]*Role
	hosts          map[akey]*hostState
	pairs          pairMap[struct{}] // unordered pairs seen in the window (fan-out)
	fired          map[akey]uint8    // rules reported per host, whole run
	heard          map[pkey]struct{}
	window         int64
	index          uint64
	special, local octets
}

// New makes a detector that reports to sink.
func New(cfg Config, sink analyze.Sink) *Detector {
	d0 := DefaultConfig()
	if cfg.FanOut <= 0 {
		cfg.FanOut = d0.FanOut
	}
	if cfg.SynOnly <= 0 {
		cfg.SynOnly = d0.SynOnly
	}
	if cfg.WindowMS <= 0 {
		cfg.WindowMS = d0.WindowMS
	}
	if cfg.MaxShown <= 0 {
		cfg.MaxShown = d0.MaxShown
	}
	if cfg.Special == nil {
		cfg.Special = DefaultSpecial()
	}
	d := &Detector{cfg: cfg, sink: sink, wlHost: map[akey]bool{}, roles: map[netip.Addr]*Role{},
		hosts: map[akey]*hostState{}, pairs: newPairMap[struct{}](), fired: map[akey]uint8{}, heard: map[pkey]struct{}{},
		window: -1 << 62, special: octetsOf(cfg.Special), local: octetsOf(cfg.Local)}
	for _, p := range cfg.Whitelist {
		if p.IsSingleIP() {
			d.wlHost[addrKey(p.Addr())] = true
		} else {
			d.wlNet = append(d.wlNet, p)
		}
	}
	for i := range cfg.Roles {
		for _, h := range cfg.Roles[i].Hosts {
			d.roles[h] = &cfg.Roles[i]
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

func (d *Detector) white(a netip.Addr) bool {
	return d.wlHost[addrKey(a)] || (len(d.wlNet) > 0 && in(d.wlNet, a))
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

func (d *Detector) host(k akey) *hostState {
	h := d.hosts[k]
	if h == nil {
		h = &hostState{}
		d.hosts[k] = h
	}
	return h
}

func (d *Detector) isSpecial(a netip.Addr) bool {
	return d.special.may(a) && in(d.cfg.Special, a) && !(d.local.may(a) && in(d.cfg.Local, a))
}

func (d *Detector) isLocal(a netip.Addr) bool { return d.local.may(a) && in(d.cfg.Local, a) }

func (d *Detector) one(r *flow.Record) {
	if w := r.End / d.cfg.WindowMS; w != d.window {
		// A new window: the counting rules start again.
		d.window = w
		clear(d.hosts)
		clear(d.heard)
		d.pairs.Clear()
	}
	d.fanOut(r)
	d.bogon(r)
	d.plan(r)
	d.synOnly(r)
	d.rolePort(r)
}

func (d *Detector) fanOut(r *flow.Record) {
	if (len(d.wlHost) > 0 || len(d.wlNet) > 0) && (d.white(r.Src) || d.white(r.Dst)) {
		return
	}
	a, b := r.Src, r.Dst
	if b.Less(a) {
		a, b = b, a
	}
	if !d.pairs.Put(a, b, struct{}{}) {
		return
	}
	if a != b {
		d.peer(r, r.Src, addrKey(r.Src), r.Dst)
	}
	d.peer(r, r.Dst, addrKey(r.Dst), r.Src)
}

func (d *Detector) peer(r *flow.Record, a netip.Addr, ak akey, b netip.Addr) {
	if d.fired[ak]&ruleFanOut != 0 {
		return
	}
	h := d.host(ak)
	h.peers++
	// Only hosts near the threshold keep evidence: the last MaxShown
	// peers before it fires. Most hosts never get there.
	if h.peers > d.cfg.FanOut+1-d.cfg.MaxShown {
		h.sample = append(h.sample, b)
	}
	if h.peers > d.cfg.FanOut {
		t := h.sample
		h.sample = nil
		d.emit(r, a, ak, ruleFanOut, analyze.FanOut, fmt.Sprintf("distinct peers > %d in a window", d.cfg.FanOut),
			float64(d.cfg.FanOut), float64(h.peers), t, nil, "")
	}
}

func (d *Detector) bogon(r *flow.Record) {
	if d.isSpecial(r.Src) {
		d.heard[pairKey(addrKey(r.Src), addrKey(r.Dst))] = struct{}{}
	}
	if !d.isSpecial(r.Dst) || reply(r) {
		return
	}
	sk := addrKey(r.Src)
	if _, ok := d.heard[pairKey(addrKey(r.Dst), sk)]; ok {
		return // answering a flow from that address
	}
	if d.fired[sk]&ruleBogon != 0 {
		return
	}
	var pfx string
	for _, p := range d.cfg.Special {
		if p.Contains(r.Dst) {
			pfx = p.String()
			break
		}
	}
	d.emit(r, r.Src, sk, ruleBogon, analyze.Bogon, "destination in special-purpose network", 0, 1,
		[]netip.Addr{r.Dst}, []uint16{r.DstPort}, "network "+pfx)
}

func (d *Detector) plan(r *flow.Record) {
	if len(d.cfg.Plan) == 0 || !d.isLocal(r.Src) {
		return
	}
	for _, p := range d.cfg.Plan {
		if p.Contains(r.Src) {
			return
		}
	}
	sk := addrKey(r.Src)
	if d.fired[sk]&rulePlan != 0 {
		return
	}
	d.emit(r, r.Src, sk, rulePlan, analyze.OutsidePlan, "source in local networks but in no plan range", 0, 1,
		[]netip.Addr{r.Dst}, nil, "")
}

func (d *Detector) synOnly(r *flow.Record) {
	if r.Proto != 6 || (r.TCPFlags != flow.TCPSyn && r.TCPFlags != flow.TCPSyn|flow.TCPRst) {
		return
	}
	sk := addrKey(r.Src)
	if d.fired[sk]&ruleSyn != 0 {
		return
	}
	h := d.host(sk)
	h.syn++
	if len(h.synDst) < d.cfg.MaxShown && !slices.Contains(h.synDst, r.Dst) {
		h.synDst = append(h.synDst, r.Dst)
	}
	if h.syn > d.cfg.SynOnly {
		d.emit(r, r.Src, sk, ruleSyn, analyze.SynOnly, fmt.Sprintf("SYN-only or SYN+RST flows > %d in a window", d.cfg.SynOnly),
			float64(d.cfg.SynOnly), float64(h.syn), slices.Clone(h.synDst), nil, "")
		h.synDst = nil
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
	if len(d.roles) == 0 {
		return
	}
	role := d.roles[r.Src]
	if role == nil {
		return
	}
	sk := addrKey(r.Src)
	if d.fired[sk]&rulePort != 0 {
		return
	}
	if allowed(role.Connects, r.Proto, r.DstPort) || allowed(role.Serves, r.Proto, r.SrcPort) ||
		((r.Proto == 1 || r.Proto == 58) && icmpReply(r)) {
		return
	}
	d.emit(r, r.Src, sk, rulePort, analyze.PolicyPort, "port not allowed for role "+role.Name, 0, float64(r.DstPort),
		[]netip.Addr{r.Dst}, []uint16{r.DstPort}, fmt.Sprintf("role %s, proto %d", role.Name, r.Proto))
}

func (d *Detector) emit(r *flow.Record, host netip.Addr, hk akey, rule uint8, k analyze.Kind, text string, thr, val float64,
	targets []netip.Addr, ports []uint16, note string) {
	d.fired[hk] |= rule
	slices.SortFunc(targets, func(a, b netip.Addr) int { return a.Compare(b) })
	if len(targets) > d.cfg.MaxShown {
		targets = targets[:d.cfg.MaxShown]
	}
	d.sink(analyze.Finding{
		Detector: "heuristics", Kind: k, Src: host, Dst: r.Dst, Time: r.Start, Index: d.index, Flow: *r,
		Rule: text, Threshold: thr, Value: val, Targets: targets, Ports: ports, Note: note,
	})
}
