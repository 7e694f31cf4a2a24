// Package policy reads the site policy file (TOML): local networks,
// white-lists, the address plan, roles with their allowed ports, the
// special-purpose network list and every detector threshold. Every value
// has a default, so no file is needed (Default). The complete commented
// example is samples/policy.example.toml.
package policy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/flowsift/flowsift/analyze/heuristics"
	"github.com/flowsift/flowsift/analyze/trw"
	"github.com/flowsift/flowsift/analyze/weighted"
	"github.com/flowsift/flowsift/pass"
)

// Policy is the decoded file.
type Policy struct {
	Local      []Prefix   `toml:"local"`
	Whitelist  []Prefix   `toml:"whitelist"`
	Special    []Prefix   `toml:"special"`
	Plan       []Range    `toml:"plan"`
	Roles      []Role     `toml:"role"`
	Dscan      Dscan      `toml:"dscan"`
	Weighted   Weighted   `toml:"weighted"`
	TRW        TRW        `toml:"trw"`
	Heuristics Heuristics `toml:"heuristics"`
	Talkers    Talkers    `toml:"talkers"`
	VScan      VScan      `toml:"vscan"`
	Guess      Guess      `toml:"guess"`
	HostRoles  HostRoles  `toml:"host_roles"`
}

// VScan holds the vertical-scan detector's thresholds (its walk takes
// theta0, theta1, alpha and beta from [trw]).
type VScan struct {
	MinFailed int   `toml:"min_failed"`
	WindowMS  int64 `toml:"window_ms"`
	HorizonMS int64 `toml:"horizon_ms"`
	MaxPairs  int   `toml:"max_pairs"`
}

// Guess holds the password-guessing detector's thresholds.
type Guess struct {
	MinAttempts   int     `toml:"min_attempts"`
	MinSimilar    float64 `toml:"min_similar"`
	MinPackets    uint64  `toml:"min_packets"`
	MaxPackets    uint64  `toml:"max_packets"`
	MaxDurationMS int64   `toml:"max_duration_ms"`
	WindowMS      int64   `toml:"window_ms"`
	LongFactor    float64 `toml:"long_factor"`
}

// HostRoles holds the thresholds of the host roles.
type HostRoles struct {
	MinPeers       int     `toml:"min_peers"`
	ServerShare    float64 `toml:"server_share"`
	Answered       float64 `toml:"answered"`
	P2PAnswered    float64 `toml:"p2p_answered"`
	ClientAnswered float64 `toml:"client_answered"`
	HighPorts      float64 `toml:"high_ports"`
	MinRounds      int     `toml:"min_rounds"`
	MaxJitter      float64 `toml:"max_jitter"`
	MinRefused     int     `toml:"min_refused"`
	NoAckShare     float64 `toml:"noack_share"`
}

// Range is one named block of the address plan.
type Range struct {
	Name  string `toml:"name"`
	Kind  string `toml:"kind"` // "static" or "dhcp"
	First Addr   `toml:"first"`
	Last  Addr   `toml:"last"`
}

// Role names hosts and the ports they may use.
type Role struct {
	Name     string     `toml:"name"`
	Hosts    []Addr     `toml:"hosts"`
	Connects []PortSpec `toml:"connects"` // ports they may open connections to
	Serves   []PortSpec `toml:"serves"`   // ports they answer on
}

// Dscan holds the dscan engine's settings: flow-dscan's -D, -S, -t, its
// filters (-m, -w, -W), triggers (-O, -P, -T) and suppress lists (-L),
// and flowsift's --max-sources.
type Dscan struct {
	Depth       int    `toml:"depth"`
	Ports       int    `toml:"ports"`
	AgerTimeout uint64 `toml:"ager_timeout"`
	Octets      uint64 `toml:"octets"`
	Packets     uint64 `toml:"packets"`
	DurationMS  uint32 `toml:"duration_ms"`
	Multicast   bool   `toml:"ignore_multicast"`
	WWWIn       bool   `toml:"ignore_www_inbound"`
	WWWOut      bool   `toml:"ignore_www_outbound"`
	MaxSources  int    `toml:"max_sources"`
	Suppress    string `toml:"suppress"` // BASE of BASE.src and BASE.dst
}

// Talkers holds the top-talker tables' size.
type Talkers struct {
	Top int `toml:"top"`
}

// Weighted holds scanlogd's constants.
type Weighted struct {
	Threshold   int   `toml:"threshold"`
	PrivWeight  int   `toml:"privileged_weight"`
	OtherWeight int   `toml:"other_weight"`
	MaxGapMS    int64 `toml:"max_gap_ms"`
}

// TRW holds the sequential test's parameters.
type TRW struct {
	Theta0     float64 `toml:"theta0"`
	Theta1     float64 `toml:"theta1"`
	Alpha      float64 `toml:"alpha"`
	Beta       float64 `toml:"beta"`
	WindowMS   int64   `toml:"window_ms"`
	MaxPending int     `toml:"max_pending"`
	// InitiatedOnly: count only flows to peers that did not speak first.
	InitiatedOnly bool `toml:"initiated_only"`
}

// Heuristics holds the seed-003 thresholds.
type Heuristics struct {
	FanOut   int   `toml:"fan_out"`
	SynOnly  int   `toml:"syn_only"`
	WindowMS int64 `toml:"window_ms"`
}

// Default is the policy with no file: no local networks, plan or roles
// (those rules are off), the default special-purpose list, and the
// detectors' default thresholds.
func Default() *Policy {
	w, t, h := weighted.DefaultConfig(), trw.DefaultConfig(), heuristics.DefaultConfig()
	c := pass.DefaultConfiguration()
	d := c.Dscan
	p := &Policy{
		Dscan: Dscan{Depth: d.Depth, Ports: d.PortTrigger, AgerTimeout: d.AgerTimeout, Octets: d.Octets, Packets: d.Packets,
			DurationMS: d.Time, MaxSources: d.MaxSources},
		Talkers:    Talkers{Top: c.Talkers.N},
		Weighted:   Weighted{Threshold: w.Threshold, PrivWeight: w.PrivWeight, OtherWeight: w.OtherWeight, MaxGapMS: w.MaxGapMS},
		TRW:        TRW{Theta0: t.Theta0, Theta1: t.Theta1, Alpha: t.Alpha, Beta: t.Beta, WindowMS: t.WindowMS, MaxPending: t.MaxPending},
		Heuristics: Heuristics{FanOut: h.FanOut, SynOnly: h.SynOnly, WindowMS: h.WindowMS},
		VScan:      VScan{MinFailed: c.VScan.MinFailed, WindowMS: c.VScan.WindowMS, HorizonMS: c.VScan.HorizonMS, MaxPairs: c.VScan.MaxPairs},
		Guess: Guess{MinAttempts: c.Guess.MinAttempts, MinSimilar: c.Guess.MinSimilar, MinPackets: c.Guess.MinPackets,
			MaxPackets: c.Guess.MaxPackets, MaxDurationMS: c.Guess.MaxDurationMS, WindowMS: c.Guess.GapMS, LongFactor: c.Guess.LongFactor},
		HostRoles: HostRoles{MinPeers: c.Roles.MinPeers, ServerShare: c.Roles.ServerShare, Answered: c.Roles.Answered,
			P2PAnswered: c.Roles.P2PAnswered, ClientAnswered: c.Roles.ClientAnswered, HighPorts: c.Roles.HighPorts,
			MinRounds: c.Roles.MinRounds, MaxJitter: c.Roles.MaxJitter, MinRefused: c.Roles.MinRefused, NoAckShare: c.Roles.NoAckShare},
	}
	for _, s := range heuristics.DefaultSpecialText {
		p.Special = append(p.Special, Prefix{netip.MustParsePrefix(s)})
	}
	return p
}

// Load reads a policy file over the defaults: keys the file leaves out
// keep their default values (a list given in the file replaces the
// default list).
func Load(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	p, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	return p, nil
}

// Parse decodes policy text; errors name the key and the line.
func Parse(data []byte) (*Policy, error) {
	p := Default()
	md, err := toml.Decode(string(data), p)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			msg := pe.Message
			if msg == "" {
				if u := errors.Unwrap(pe); u != nil {
					msg = u.Error()
				} else {
					msg = pe.Error()
				}
			}
			if pe.LastKey != "" {
				return nil, fmt.Errorf("line %d: key %s: %s", pe.Position.Line, pe.LastKey, msg)
			}
			return nil, fmt.Errorf("line %d: %s", pe.Position.Line, msg)
		}
		// Type mismatches come as "toml: line N (last key K): ...".
		return nil, errors.New(strings.TrimPrefix(err.Error(), "toml: "))
	}
	if und := md.Undecoded(); len(und) > 0 {
		var keys []string
		for _, k := range und {
			keys = append(keys, fmt.Sprintf("%s (line %d)", k, keyLine(data, k.String())))
		}
		return nil, fmt.Errorf("unknown key(s): %s", strings.Join(keys, ", "))
	}
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("line %d: key %s: %s", keyLine(data, err.key), err.key, err.msg)
	}
	return p, nil
}

type keyErr struct{ key, msg string }

func (p *Policy) validate() *keyErr {
	pos := func(key string, v float64) *keyErr {
		if v <= 0 {
			return &keyErr{key, fmt.Sprintf("must be > 0, got %v", v)}
		}
		return nil
	}
	share := func(key string, v float64) *keyErr {
		if v <= 0 || v > 1 {
			return &keyErr{key, fmt.Sprintf("must be above 0 and at most 1, got %v", v)}
		}
		return nil
	}
	prob := func(key string, v float64) *keyErr {
		if v <= 0 || v >= 1 {
			return &keyErr{key, fmt.Sprintf("must be between 0 and 1 (exclusive), got %v", v)}
		}
		return nil
	}
	for _, e := range []*keyErr{
		pos("dscan.depth", float64(p.Dscan.Depth)), pos("dscan.ports", float64(p.Dscan.Ports)),
		pos("talkers.top", float64(p.Talkers.Top)),
		pos("weighted.threshold", float64(p.Weighted.Threshold)), pos("weighted.privileged_weight", float64(p.Weighted.PrivWeight)),
		pos("weighted.other_weight", float64(p.Weighted.OtherWeight)), pos("weighted.max_gap_ms", float64(p.Weighted.MaxGapMS)),
		prob("trw.theta0", p.TRW.Theta0), prob("trw.theta1", p.TRW.Theta1), prob("trw.alpha", p.TRW.Alpha), prob("trw.beta", p.TRW.Beta),
		pos("trw.window_ms", float64(p.TRW.WindowMS)), pos("trw.max_pending", float64(p.TRW.MaxPending)),
		pos("heuristics.fan_out", float64(p.Heuristics.FanOut)), pos("heuristics.syn_only", float64(p.Heuristics.SynOnly)),
		pos("heuristics.window_ms", float64(p.Heuristics.WindowMS)),
		pos("vscan.min_failed", float64(p.VScan.MinFailed)), pos("vscan.window_ms", float64(p.VScan.WindowMS)),
		pos("vscan.horizon_ms", float64(p.VScan.HorizonMS)), pos("vscan.max_pairs", float64(p.VScan.MaxPairs)),
		pos("guess.min_attempts", float64(p.Guess.MinAttempts)), share("guess.min_similar", p.Guess.MinSimilar),
		pos("guess.min_packets", float64(p.Guess.MinPackets)), pos("guess.max_packets", float64(p.Guess.MaxPackets)),
		pos("guess.max_duration_ms", float64(p.Guess.MaxDurationMS)), pos("guess.window_ms", float64(p.Guess.WindowMS)),
		pos("guess.long_factor", p.Guess.LongFactor),
		pos("host_roles.min_peers", float64(p.HostRoles.MinPeers)), share("host_roles.server_share", p.HostRoles.ServerShare),
		share("host_roles.answered", p.HostRoles.Answered), share("host_roles.p2p_answered", p.HostRoles.P2PAnswered),
		share("host_roles.client_answered", p.HostRoles.ClientAnswered), share("host_roles.high_ports", p.HostRoles.HighPorts),
		pos("host_roles.min_rounds", float64(p.HostRoles.MinRounds)), pos("host_roles.max_jitter", p.HostRoles.MaxJitter),
		pos("host_roles.min_refused", float64(p.HostRoles.MinRefused)), share("host_roles.noack_share", p.HostRoles.NoAckShare),
	} {
		if e != nil {
			return e
		}
	}
	if p.Dscan.MaxSources < 0 {
		return &keyErr{"dscan.max_sources", fmt.Sprintf("must be >= 0 (0 = no bound), got %d", p.Dscan.MaxSources)}
	}
	if p.TRW.Theta1 >= p.TRW.Theta0 {
		return &keyErr{"trw.theta1", "must be below trw.theta0 (scanners succeed less often)"}
	}
	if p.TRW.Beta <= p.TRW.Alpha {
		return &keyErr{"trw.beta", "must be above trw.alpha"}
	}
	if p.Guess.MinPackets > p.Guess.MaxPackets {
		return &keyErr{"guess.min_packets", fmt.Sprintf("must not be above guess.max_packets (%d)", p.Guess.MaxPackets)}
	}
	for _, r := range p.Plan {
		if r.Kind != "static" && r.Kind != "dhcp" {
			return &keyErr{"plan.kind", fmt.Sprintf("range %q: kind must be \"static\" or \"dhcp\", got %q", r.Name, r.Kind)}
		}
		if r.First.BitLen() != r.Last.BitLen() || r.Last.Less(r.First.Addr) {
			return &keyErr{"plan.last", fmt.Sprintf("range %q: %s..%s is empty or mixes families", r.Name, r.First, r.Last)}
		}
	}
	for _, r := range p.Roles {
		if r.Name == "" {
			return &keyErr{"role.name", "a role needs a name"}
		}
	}
	return nil
}

// keyLine finds the line of a dotted key (table.key, or a key of an array
// of tables) by a lexical scan: table headers set the prefix, "key ="
// lines complete it. It is only used to point at a line in messages; 0
// when not found.
func keyLine(data []byte, key string) int {
	sc := bufio.NewScanner(bytes.NewReader(data))
	table, n, tableLine := "", 0, 0
	for sc.Scan() {
		n++
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "[") {
			table = strings.Trim(l, "[] \t")
			if i := strings.IndexByte(table, '#'); i >= 0 {
				table = strings.TrimSpace(strings.Trim(table[:i], "[] \t"))
			}
			if table == key {
				tableLine = n
			}
			continue
		}
		if i := strings.IndexByte(l, '='); i > 0 {
			k := strings.Trim(strings.TrimSpace(l[:i]), `"`)
			full := k
			if table != "" {
				full = table + "." + k
			}
			if full == key {
				return n
			}
		}
	}
	return tableLine
}

// Addr is an address that decodes from a TOML string.
type Addr struct{ netip.Addr }

func (a *Addr) UnmarshalText(b []byte) error {
	v, err := netip.ParseAddr(string(b))
	if err != nil {
		return fmt.Errorf("bad address %q", b)
	}
	a.Addr = v
	return nil
}

func (a Addr) MarshalText() ([]byte, error) { return a.Addr.MarshalText() }

// Prefix is a network; a bare address means a single host.
type Prefix struct{ netip.Prefix }

func (p *Prefix) UnmarshalText(b []byte) error {
	s := string(b)
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return fmt.Errorf("bad address or network %q", s)
		}
		p.Prefix = netip.PrefixFrom(a, a.BitLen())
		return nil
	}
	v, err := netip.ParsePrefix(s)
	if err != nil {
		return fmt.Errorf("bad network %q", s)
	}
	if v != v.Masked() {
		return fmt.Errorf("network %q has host bits set (did you mean %s?)", s, v.Masked())
	}
	p.Prefix = v
	return nil
}

func (p Prefix) MarshalText() ([]byte, error) { return p.Prefix.MarshalText() }

// PortSpec is "tcp/80", "udp/1024-65535", "tcp/any", "icmp" or "any".
type PortSpec struct{ heuristics.PortRule }

var protoNames = map[string]uint8{"tcp": 6, "udp": 17, "icmp": 1, "icmp6": 58, "ipv6-icmp": 58, "sctp": 132, "any": 0}

func (p *PortSpec) UnmarshalText(b []byte) error {
	s := strings.ToLower(strings.TrimSpace(string(b)))
	name, ports, _ := strings.Cut(s, "/")
	pr, ok := protoNames[name]
	if !ok {
		n, err := strconv.ParseUint(name, 10, 8)
		if err != nil {
			return fmt.Errorf("bad port spec %q: unknown protocol %q", s, name)
		}
		pr = uint8(n)
	}
	p.PortRule = heuristics.PortRule{Proto: pr, Lo: 0, Hi: 65535}
	if ports == "" || ports == "any" {
		return nil
	}
	lo, hi, isRange := strings.Cut(ports, "-")
	l, err1 := strconv.ParseUint(lo, 10, 16)
	h := l
	var err2 error
	if isRange {
		h, err2 = strconv.ParseUint(hi, 10, 16)
	}
	if err1 != nil || err2 != nil || h < l {
		return fmt.Errorf("bad port spec %q: want proto/port or proto/lo-hi", s)
	}
	p.Lo, p.Hi = uint16(l), uint16(h)
	return nil
}

// Apply fills the pass's configuration from the policy: dscan's settings,
// the other detectors' configurations, the talkers' size and, when the
// policy names them, the local networks and the suppress lists (which
// the caller loads from Configuration.SuppressFile). Command-line flags
// are applied after it.
func (p *Policy) Apply(c *pass.Configuration) {
	d := &c.Dscan
	d.Depth, d.PortTrigger, d.AgerTimeout = p.Dscan.Depth, p.Dscan.Ports, p.Dscan.AgerTimeout
	d.Octets, d.Packets, d.Time = p.Dscan.Octets, p.Dscan.Packets, p.Dscan.DurationMS
	d.Mcast, d.WWWIn, d.WWWOut, d.MaxSources = p.Dscan.Multicast, p.Dscan.WWWIn, p.Dscan.WWWOut, p.Dscan.MaxSources
	if p.Dscan.Suppress != "" {
		c.SuppressFile = p.Dscan.Suppress
	}
	c.Talkers.N = p.Talkers.Top
	c.Weighted, c.TRW, c.Heuristics = p.WeightedConfig(), p.TRWConfig(), p.HeuristicsConfig()
	v := &c.VScan
	v.Walk = trw.Config{Theta0: p.TRW.Theta0, Theta1: p.TRW.Theta1, Alpha: p.TRW.Alpha, Beta: p.TRW.Beta}
	v.MinFailed, v.WindowMS, v.HorizonMS, v.MaxPairs = p.VScan.MinFailed, p.VScan.WindowMS, p.VScan.HorizonMS, p.VScan.MaxPairs
	g := &c.Guess
	g.MinAttempts, g.MinSimilar, g.MinPackets, g.MaxPackets = p.Guess.MinAttempts, p.Guess.MinSimilar, p.Guess.MinPackets, p.Guess.MaxPackets
	g.MaxDurationMS, g.GapMS, g.LongFactor = p.Guess.MaxDurationMS, p.Guess.WindowMS, p.Guess.LongFactor
	r, h := &c.Roles, p.HostRoles
	r.MinPeers, r.ServerShare, r.Answered, r.P2PAnswered, r.ClientAnswered = h.MinPeers, h.ServerShare, h.Answered, h.P2PAnswered, h.ClientAnswered
	r.HighPorts, r.MinRounds, r.MaxJitter, r.MinRefused, r.NoAckShare = h.HighPorts, h.MinRounds, h.MaxJitter, h.MinRefused, h.NoAckShare
	if local := p.LocalPrefixes(); len(local) > 0 {
		c.Local = local
	}
}

// WeightedConfig, TRWConfig and HeuristicsConfig build the detectors'
// configurations.
func (p *Policy) WeightedConfig() weighted.Config {
	c := weighted.DefaultConfig()
	c.Threshold, c.PrivWeight, c.OtherWeight, c.MaxGapMS = p.Weighted.Threshold, p.Weighted.PrivWeight, p.Weighted.OtherWeight, p.Weighted.MaxGapMS
	return c
}

func (p *Policy) TRWConfig() trw.Config {
	return trw.Config{Theta0: p.TRW.Theta0, Theta1: p.TRW.Theta1, Alpha: p.TRW.Alpha, Beta: p.TRW.Beta,
		WindowMS: p.TRW.WindowMS, MaxPending: p.TRW.MaxPending, InitiatedOnly: p.TRW.InitiatedOnly}
}

func (p *Policy) HeuristicsConfig() heuristics.Config {
	c := heuristics.DefaultConfig()
	c.FanOut, c.SynOnly, c.WindowMS = p.Heuristics.FanOut, p.Heuristics.SynOnly, p.Heuristics.WindowMS
	c.Local, c.Whitelist = prefixes(p.Local), prefixes(p.Whitelist)
	c.Special = prefixes(p.Special)
	if c.Special == nil {
		c.Special = []netip.Prefix{} // an empty list in the file switches the rule off
	}
	for _, r := range p.Plan {
		c.Plan = append(c.Plan, heuristics.Range{Name: r.Name, Kind: r.Kind, First: r.First.Addr, Last: r.Last.Addr})
	}
	for _, r := range p.Roles {
		hr := heuristics.Role{Name: r.Name}
		for _, h := range r.Hosts {
			hr.Hosts = append(hr.Hosts, h.Addr)
		}
		for _, s := range r.Connects {
			hr.Connects = append(hr.Connects, s.PortRule)
		}
		for _, s := range r.Serves {
			hr.Serves = append(hr.Serves, s.PortRule)
		}
		c.Roles = append(c.Roles, hr)
	}
	return c
}

// LocalPrefixes is the local networks as plain prefixes (for episode.Config).
func (p *Policy) LocalPrefixes() []netip.Prefix { return prefixes(p.Local) }

func prefixes(ps []Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range ps {
		out = append(out, p.Prefix)
	}
	return out
}
