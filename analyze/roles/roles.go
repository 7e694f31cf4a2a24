// Package roles infers what a busy host is from its own flows, so that a
// detector's finding against it can be explained or held back: a server
// answering its clients, a DNS resolver or an NTP server, a mail relay, a
// P2P client, a monitoring host, or a busy client whose peers nearly all
// answer. Each role comes with the figures that decided it and their
// thresholds; ScanSigns says whether the host also behaves like a scanner
// (refused or unanswered connection attempts), in which case its role
// explains nothing away.
//
// Everything is counted from flows where the host is the source or the
// destination. Flows are unidirectional; a peer "answered" the host when a
// flow from the peer to the host was seen at any time of the run.
//
// Memory: at most MaxHosts hosts are followed. When the table is full,
// hosts with fewer than MinPeers peers (no role yet) are forgotten, a
// quarter of the table at a time, first those that answered nobody and
// that no peer sent to, so that a day of background radiation (millions of
// sources of a probe or two) does not keep a server that appears later
// from getting its role. Per host at most MaxPeers peers and MaxTargets
// periodic targets are kept. Roles of hosts beyond those caps are computed
// on what was kept (Result.Truncated).
package roles

import (
	"cmp"
	"encoding/gob"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"math"
	"net/netip"
	"slices"
	"strings"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/analyze/internal/addrkey"
	"github.com/flowsift/flowsift/analyze/internal/u64map"
	"github.com/flowsift/flowsift/flow"
)

// Config holds the thresholds; zero fields take the defaults.
type Config struct {
	MinPeers    int     // distinct peers before a host has a role (10)
	ServerShare float64 // share of a server's flows sent from its top 3 source ports (0.8)
	Answered    float64 // share of peers that must answer a relay or a monitor (0.8)
	P2PAnswered float64 // share of peers that must answer a P2P client (0.5)
	// ClientAnswered is the share of peers that must answer a busy
	// client (0.95): a scan leaves more than one in twenty silent.
	ClientAnswered float64
	HighPorts      float64 // share of a P2P client's flows to ports >= 1024 (0.9)
	MinRounds      int     // contacts of one target before its period counts (5)
	MaxJitter      float64 // coefficient of variation of a periodic target's interval (0.25)
	MinRefused     int     // connection attempts refused (RST) that are scan signs (10)
	NoAckShare     float64 // share of TCP flows without ACK that is a scan sign, with >= MinRefused of them (0.5)
	MaxHosts       int     // hosts followed (1<<18)
	MaxPeers       int     // peers kept per host (4096)
	MaxTargets     int     // periodic targets kept per host (256)
	Shard          analyze.Shard
}

// HostBytes is what a host of background radiation (a source of a probe
// or three) takes in the analyser's tables; a memory budget divides by it
// to bound MaxHosts. Measured by BenchmarkBytesPerHost, sources of three
// probes each: 496 bytes a host among 2^18, 525 among 200 k, just past
// the tables' doubling, their emptiest. With a set of peers per host
// instead of the pair table it was 544 and 554; with four maps a host,
// 965 among 2^18; with the targets and the reply counts in tables of
// all hosts, 464 and 462 (the targets' tables just past their doubling
// among 2^18); with the pairs seven to a cache line (u64map.Bytes), 464
// and 421 (among 2^18 the groups take what the 16-byte slots did: both
// tables are powers of two). It stays at 525: on the background day the
// roles held more than it makes of 2^18 hosts (about 185 MB by a heap
// profile), and a smaller figure would follow more hosts there.
const HostBytes = 525

// DefaultConfig is the package's defaults.
func DefaultConfig() Config {
	return Config{MinPeers: 10, ServerShare: 0.8, Answered: 0.8, P2PAnswered: 0.5, ClientAnswered: 0.95, HighPorts: 0.9, MinRounds: 5,
		MaxJitter: 0.25, MinRefused: 10, NoAckShare: 0.5, MaxHosts: 1 << 18, MaxPeers: 4096, MaxTargets: 256}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	c.MinPeers = analyze.Positive(c.MinPeers, d.MinPeers)
	c.ServerShare = analyze.Positive(c.ServerShare, d.ServerShare)
	c.Answered = analyze.Positive(c.Answered, d.Answered)
	c.P2PAnswered = analyze.Positive(c.P2PAnswered, d.P2PAnswered)
	c.ClientAnswered = analyze.Positive(c.ClientAnswered, d.ClientAnswered)
	c.HighPorts = analyze.Positive(c.HighPorts, d.HighPorts)
	c.MinRounds = analyze.Positive(c.MinRounds, d.MinRounds)
	c.MaxJitter = analyze.Positive(c.MaxJitter, d.MaxJitter)
	c.MinRefused = analyze.Positive(c.MinRefused, d.MinRefused)
	c.NoAckShare = analyze.Positive(c.NoAckShare, d.NoAckShare)
	c.MaxHosts = analyze.Positive(c.MaxHosts, d.MaxHosts)
	c.MaxPeers = analyze.Positive(c.MaxPeers, d.MaxPeers)
	c.MaxTargets = analyze.Positive(c.MaxTargets, d.MaxTargets)
	return c
}

// Validate refuses negative values and shares above 1.
func (c Config) Validate() error {
	for _, s := range []float64{c.ServerShare, c.Answered, c.P2PAnswered, c.ClientAnswered, c.HighPorts, c.NoAckShare} {
		if s < 0 || s > 1 {
			return fmt.Errorf("roles: share %v: must be between 0 and 1", s)
		}
	}
	if c.MinPeers < 0 || c.MinRounds < 0 || c.MaxJitter < 0 || c.MinRefused < 0 || c.MaxHosts < 0 || c.MaxPeers < 0 || c.MaxTargets < 0 {
		return fmt.Errorf("roles: no count may be negative")
	}
	return c.Shard.Validate()
}

// Settings describes the configuration for a report.
func (c Config) Settings() []analyze.Setting {
	c = c.withDefaults()
	return []analyze.Setting{{Name: "host roles", Value: fmt.Sprintf(
		">= %d peers; server: >= %.0f %% of flows from its top 5 source ports to ports >= 1024, >= %.0f %% of peers sent to it; relay and monitor: >= %.0f %% of peers answer; P2P: >= %.0f %% answer, >= %.0f %% to ports >= 1024; busy client: >= %.0f %% answer; monitor: >= %d contacts per target, interval jitter <= %.2f; scan signs: >= %d refused attempts, or that many TCP flows without ACK making >= %.0f %%",
		c.MinPeers, 100*c.ServerShare, 100*c.Answered, 100*c.Answered, 100*c.P2PAnswered, 100*c.HighPorts, 100*c.ClientAnswered, c.MinRounds, c.MaxJitter, c.MinRefused, 100*c.NoAckShare)}}
}

// serverPorts is how many source ports a server may answer from: "a few".
const serverPorts = 5

// Figure is one number that decided a role, with its threshold.
type Figure struct {
	Name      string
	Value     float64
	Threshold float64
	AtMost    bool // the value must not exceed the threshold (else: reach it)
}

func (f Figure) String() string {
	op := ">="
	if f.AtMost {
		op = "<="
	}
	return fmt.Sprintf("%s %s (%s %s)", f.Name, num(f.Value), op, num(f.Threshold))
}

func num(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%.2f", v)
}

// The roles.
const (
	Server     = "server"
	DNS        = "dns server"
	NTP        = "ntp server"
	MailRelay  = "mail relay"
	P2P        = "p2p client"
	Monitoring = "monitoring host"
	Client     = "busy client"
)

// Role is what a host was found to be.
type Role struct {
	Addr    netip.Addr
	Role    string
	Detail  string   // e.g. "answers from udp/53"
	Figures []Figure // the figures that decided it
	// ScanSigns: the host also had connection attempts refused or left
	// unanswered in numbers no role explains; its role holds nothing back.
	ScanSigns bool
	ScanFigs  []Figure
	Truncated bool
}

// Why is the role with its deciding figures, one line.
func (r Role) Why() string {
	var f []string
	for _, x := range r.Figures {
		f = append(f, x.String())
	}
	s := r.Role
	if r.Detail != "" {
		s += " (" + r.Detail + ")"
	}
	return s + ": " + strings.Join(f, ", ")
}

type host struct {
	flows, tcp, noAck uint64
	bare              uint64 // TCP flows of 3 packets or fewer: a handshake and a close, no data
	refused           uint64 // refusals it received
	refusals          uint64 // refusals it sent
	addr              netip.Addr
	// The host's peers (see pairs.go): how many, how many it sent to, how
	// many sent to it, and how many of those it sent to that sent back.
	peers, outPeers, spoke, answered uint32
	replies                          uint32                    // (proto, source port)s counted in Analyser.replies
	served                           bool                      // one of them below 1024: it answered a client from a service port
	highDst                          uint64                    // flows to ports >= 1024
	smtpPeers                        map[addrkey.Addr]struct{} // made at the first port-25 flow: few hosts have one
	targets                          uint32                    // in Analyser.targets
	truncated                        bool
}

// hostTable holds the hosts followed. IPv4 addresses (plain or mapped,
// which addrkey.Of does not tell apart either) live in an open-addressing
// table of their own (see u64map): two lookups a flow hashed 16 bytes
// each and took two or three cache misses in a Go map.
type hostTable struct {
	v4 u64map.Map[*host]
	v6 map[addrkey.Addr]*host
}

func (t *hostTable) len() int { return t.v4.Len() + len(t.v6) }

func (t *hostTable) get(k addrkey.Addr) *host {
	if is4(k) {
		if h, ok := t.v4.Get(k[1] & 0xffffffff); ok {
			return *h
		}
		return nil
	}
	return t.v6[k]
}

func (t *hostTable) put(k addrkey.Addr, h *host) {
	if is4(k) {
		v, _ := t.v4.Upsert(k[1] & 0xffffffff)
		*v = h
		return
	}
	t.v6[k] = h
}

// deleteFunc forgets the hosts del accepts.
func (t *hostTable) deleteFunc(del func(*host) bool) {
	t.v4.DeleteFuncKeep(func(_ uint64, h **host) bool { return del(*h) })
	for k, h := range t.v6 {
		if del(h) {
			delete(t.v6, k)
		}
	}
}

// all yields every host, in no particular order.
func (t *hostTable) all() iter.Seq[*host] {
	return func(yield func(*host) bool) {
		for _, h := range t.v4.All() {
			if !yield(*h) {
				return
			}
		}
		for _, h := range t.v6 {
			if !yield(h) {
				return
			}
		}
	}
}

// Analyser collects the figures. Not safe for concurrent use.
type Analyser struct {
	cfg       Config
	hosts     hostTable
	pairs     pairTable
	targets   targetTable
	replies   replyTable // flows to ports >= 1024 by host and proto<<16 | source port
	full      bool
	done      []Role // merged parts
	forgotten int    // hosts forgotten to make room
	spare     []*host
	gone      hostSet // the hosts a press forgets, kept for the next press's
	reused    int     // hosts newHost took from spare (for the tests)
	presses   int
	warned    bool
}

// New makes an analyser.
func New(cfg Config) *Analyser {
	return &Analyser{cfg: cfg.withDefaults(), hosts: hostTable{v6: map[addrkey.Addr]*host{}},
		pairs: pairTable{other: map[[2]addrkey.Addr]*pairState{}}}
}

func (a *Analyser) host(addr netip.Addr, key addrkey.Addr, create bool) *host {
	h := a.hosts.get(key)
	if h == nil && create && !a.full && a.cfg.Shard.Owns(addr) {
		if a.hosts.len() >= a.cfg.MaxHosts && !a.press() {
			a.full = true
			slog.Warn("host roles: no more hosts followed; those seen from now on get no role", "max_hosts", a.cfg.MaxHosts)
			return nil
		}
		h = a.newHost(addr)
		a.hosts.put(key, h)
	}
	return h
}

// press forgets hosts below MinPeers to free at least a quarter of a full
// table, and says whether it did. Hosts that neither answered anybody (a
// flow from a port below 1024 to a client port) nor were sent to go first
// (a source of background radiation, whose probes nobody answers), then
// those with the fewest peers: a server in the making has answered its
// first client. The cut is a rank, never map order; freeing a quarter at a
// time keeps the cost per new host constant on average.
func (a *Analyser) press() bool {
	rank := func(h *host) int {
		n := int(h.peers)
		if n >= a.cfg.MinPeers {
			return -1
		}
		if h.served || h.spoke > 0 {
			return a.cfg.MinPeers + n
		}
		return n
	}
	count := make([]int, 2*a.cfg.MinPeers)
	for h := range a.hosts.all() {
		if r := rank(h); r >= 0 {
			count[r]++
		}
	}
	want, freed, cut := a.hosts.len()/4, 0, -1
	for cut+1 < len(count) && freed < want {
		cut++
		freed += count[cut]
	}
	if freed < want {
		return false
	}
	gone := &a.gone
	gone.clear()
	a.hosts.deleteFunc(func(h *host) bool {
		r := rank(h)
		if r < 0 || r > cut {
			return false
		}
		gone.add(addrkey.Of(h.addr))
		a.keep(h)
		return true
	})
	a.pairs.forget(gone)
	a.targets.forget(gone)
	a.replies.forget(gone)
	a.forgotten += freed
	a.presses++
	return true
}

// keep holds a forgotten host, emptied, for newHost: under background
// radiation a press forgets tens of thousands of hosts and as many new
// ones follow (on a day of it, 5.4 M; their structs and first lists were
// 1.5 GB of garbage for the collector to make room for). The hosts
// followed and those kept together stay within MaxHosts.
func (a *Analyser) keep(h *host) {
	if len(a.spare)+a.hosts.len() >= a.cfg.MaxHosts {
		return
	}
	*h = host{}
	a.spare = append(a.spare, h)
}

func (a *Analyser) newHost(addr netip.Addr) *host {
	n := len(a.spare)
	if n == 0 {
		return &host{addr: addr}
	}
	h := a.spare[n-1]
	a.spare[n-1] = nil
	a.spare = a.spare[:n-1]
	h.addr = addr
	a.reused++
	return h
}

// warnForgotten says, once, what a full table made the analyser forget.
func (a *Analyser) warnForgotten() {
	if a.forgotten > 0 && !a.warned {
		a.warned = true
		slog.Warn("host roles: max hosts reached; hosts with few peers were forgotten to follow new ones (their counts restart if they come back)",
			"max_hosts", a.cfg.MaxHosts, "forgotten", a.forgotten, "sweeps", a.presses)
	}
}

// Add takes a batch of the stream.
func (a *Analyser) Add(b flow.Batch) {
	for i := range b {
		if j := i + lookAhead; j < len(b) {
			a.prefetch(&b[j])
		}
		a.one(&b[i])
	}
}

// lookAhead is how many flows ahead Add prefetches the tables' slots (see
// u64map.Prefetch).
const lookAhead = 16

// prefetch asks for the slots r's source and pair start at.
func (a *Analyser) prefetch(r *flow.Record) {
	if !r.Src.Is4() || !r.Dst.Is4() {
		return
	}
	s, d := uint64(flow.AddrU32(r.Src)), uint64(flow.AddrU32(r.Dst))
	a.hosts.v4.Prefetch(s)
	a.pairs.v4.Prefetch(min(s, d)<<32 | max(s, d))
	if port, ok := checked(r); ok {
		a.targets.prefetch(uint32(s), uint32(d), uint32(r.Proto)<<16|uint32(port))
	}
	if mayAnswer(r) {
		a.replies.v4.Prefetch(replyKey(uint32(s), uint32(r.Proto)<<16|uint32(r.SrcPort)))
	}
}

// mayAnswer says whether r may be an answer from its source: to a client
// port, or to the same port for symmetric services (NTP between servers,
// IKE). A refusal (RST to a closed port) is not; one() tells those apart.
func mayAnswer(r *flow.Record) bool {
	return (r.Proto == 6 || r.Proto == 17 || r.Proto == 132) && (r.DstPort >= 1024 || r.DstPort == r.SrcPort)
}

// checked says whether r is a contact a monitor's period is looked for
// in, and of which port: a flow to a service, or an ICMP one, not a
// reply (from a service port to a client port).
func checked(r *flow.Record) (port uint16, ok bool) {
	switch r.Proto {
	case 6, 17:
		if r.SrcPort < 1024 && r.DstPort >= 1024 {
			return 0, false
		}
		return r.DstPort, r.DstPort != 0
	case 1, 58:
		if r.SrcPort < 1024 && r.DstPort >= 1024 {
			return 0, true
		}
		return r.DstPort, true
	}
	return 0, false
}

func (a *Analyser) one(r *flow.Record) {
	if r.Src == r.Dst {
		return
	}
	src, dst := addrkey.Of(r.Src), addrkey.Of(r.Dst)
	refused := r.Proto == 6 && r.TCPFlags&flow.TCPRst != 0 && r.TCPFlags&flow.TCPSyn == 0 && r.Packets <= 2
	hs := a.host(r.Src, src, true)
	a.meet(r, src, dst, hs, refused)
	if h := hs; h != nil {
		h.flows++
		if r.Proto == 6 {
			h.tcp++
			if r.TCPFlags&flow.TCPAck == 0 {
				h.noAck++
			}
			if r.Packets <= 3 {
				h.bare++
			}
		}
		if r.DstPort >= 1024 {
			h.highDst++
		}
		// An answer goes to the peer's client port, or to the same port
		// for symmetric services (NTP between servers, IKE). A refusal
		// (RST to a closed port) is neither an answer nor the host's
		// own doing: a scanned server sends one from every port probed.
		if refused {
			h.refusals++
		}
		if !refused && mayAnswer(r) {
			k := uint32(r.Proto)<<16 | uint32(r.SrcPort)
			switch n, added := a.replies.count(src, k, h.replies < 1024); {
			case n == nil:
				h.truncated = true
			case added:
				h.replies++
				h.served = h.served || r.SrcPort < 1024
				fallthrough
			default:
				*n++
			}
		}
		if r.Proto == 6 && r.DstPort == 25 && len(h.smtpPeers) < a.cfg.MaxPeers {
			if h.smtpPeers == nil {
				h.smtpPeers = map[addrkey.Addr]struct{}{}
			}
			h.smtpPeers[dst] = struct{}{}
		}
		if port, ok := checked(r); ok {
			a.contact(h, tkey{src, dst, uint32(r.Proto)<<16 | uint32(port)}, r.Start)
		}
	}
}

// meet notes the flow in the pair of its hosts: the source sent to the
// destination (if the source is followed), the destination heard from the
// source (if it is followed; its host is looked up only when that changes
// its view, or to count a refusal).
func (a *Analyser) meet(r *flow.Record, src, dst addrkey.Addr, hs *host, refused bool) {
	p := refOf(src, dst)
	var st *pairState
	if hs != nil {
		st = a.pairs.upsert(&p)
		a.see(hs, st, p.sa, vOut)
	} else {
		st = a.pairs.get(&p) // nil: added below only if the destination counts it
	}
	if st == nil || st.view(p.sb)&(vCounted|vIn) != vCounted|vIn || refused {
		hd := a.host(r.Dst, dst, false)
		if hd != nil {
			if refused {
				hd.refused++
			}
			if st == nil {
				st = a.pairs.upsert(&p)
			}
			a.see(hd, st, p.sb, vIn)
		}
	}
	if st != nil && *st == 0 && p.created {
		a.pairs.remove(&p) // counted by neither end: a host at its cap
	}
}

// see adds dir to h's view of a pair (side is h's), counting the peer
// first if h has room for it.
func (a *Analyser) see(h *host, st *pairState, side int, dir view) {
	v := st.view(side)
	if v&vCounted == 0 {
		if int(h.peers) >= a.cfg.MaxPeers {
			h.truncated = true
			return
		}
		h.peers++
		v = vCounted
	}
	if v&dir != 0 {
		return
	}
	v |= dir
	if dir == vOut {
		h.outPeers++
	} else {
		h.spoke++
	}
	if v&(vOut|vIn) == vOut|vIn {
		h.answered++
	}
	st.setView(side, v)
}

func (a *Analyser) contact(h *host, k tkey, t int64) {
	c, added := a.targets.get(k, h.targets < uint32(a.cfg.MaxTargets))
	switch {
	case c == nil:
		h.truncated = true
		return
	case added:
		h.targets++
		c.n, c.last = 1, t
		return
	}
	// Contacts closer than a second are one check (a retry, a second
	// packet's flow): they say nothing of the period.
	if t-c.last < 1000 {
		return
	}
	iv := float64(t - c.last)
	c.n++
	c.sum += iv
	c.sq += iv * iv
	c.last = t
}

// tally is what classify reads of a host in the tables of all hosts.
type tally struct {
	periodic, rounds int         // targets contacted at a steady period, and the contacts to them
	ports            []portCount // its flows that may be answers, by protocol and source port
}

type portCount struct {
	k uint32
	n uint64
}

// tallies gathers the tallies of the hosts that may get a role.
func (a *Analyser) tallies() map[*host]*tally {
	out := map[*host]*tally{}
	of := func(hk addrkey.Addr) *tally {
		h := a.hosts.get(hk)
		if h == nil || int(h.peers) < a.cfg.MinPeers {
			return nil
		}
		t := out[h]
		if t == nil {
			t = &tally{}
			out[h] = t
		}
		return t
	}
	for hk, t := range a.targets.all() {
		if int(t.n) < a.cfg.MinRounds {
			continue
		}
		m := t.sum / float64(t.n-1)
		sd := math.Sqrt(max(0, t.sq/float64(t.n-1)-m*m))
		if m > 0 && sd/m <= a.cfg.MaxJitter {
			if c := of(hk); c != nil {
				c.periodic++
				c.rounds += int(t.n)
			}
		}
	}
	a.replies.each(func(hk addrkey.Addr, k uint32, n uint64) {
		if c := of(hk); c != nil {
			c.ports = append(c.ports, portCount{k, n})
		}
	})
	return out
}

// Roles classifies the hosts followed (and those of merged parts), sorted
// by address. Hosts with no role are left out.
func (a *Analyser) Roles() []Role {
	a.warnForgotten()
	out := slices.Clone(a.done)
	per := a.tallies()
	for h := range a.hosts.all() {
		t := per[h]
		if t == nil {
			t = &tally{}
		}
		if r, ok := a.classify(h.addr, h, t); ok {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(x, y Role) int { return x.Addr.Compare(y.Addr) })
	return out
}

// classify gives h its role from its counts and its tally.
func (a *Analyser) classify(addr netip.Addr, h *host, t *tally) (Role, bool) {
	c := a.cfg
	peers, outPeers, answered, spoke := int(h.peers), int(h.outPeers), int(h.answered), int(h.spoke)
	if peers < c.MinPeers {
		return Role{}, false
	}
	r := Role{Addr: addr, Truncated: h.truncated}
	// Scan signs first: they are reported whatever the role.
	if h.refused >= uint64(c.MinRefused) {
		r.ScanSigns = true
		r.ScanFigs = append(r.ScanFigs, Figure{Name: "attempts refused", Value: float64(h.refused), Threshold: float64(c.MinRefused)})
	}
	if h.noAck >= uint64(c.MinRefused) && float64(h.noAck) >= c.NoAckShare*float64(h.tcp) {
		r.ScanSigns = true
		r.ScanFigs = append(r.ScanFigs, Figure{Name: "TCP flows without ACK", Value: float64(h.noAck), Threshold: float64(c.MinRefused)},
			Figure{Name: "share of its TCP flows without ACK", Value: ratio(h.noAck, h.tcp), Threshold: c.NoAckShare})
	}
	// Server: most flows leave from a few ports to the peers' client
	// ports (>= 1024), the way answers do.
	ports := t.ports
	slices.SortFunc(ports, func(x, y portCount) int { return cmp.Or(cmp.Compare(y.n, x.n), cmp.Compare(x.k, y.k)) })
	var top uint64
	var names []string
	for i := 0; i < len(ports) && i < serverPorts; i++ {
		top += ports[i].n
		names = append(names, protoPort(ports[i].k))
	}
	// A scanner sends from few ports too (nmap keeps one); a server's
	// peers speak to it.
	spokeShare := float64(spoke) / float64(peers)
	own := h.flows - h.refusals
	if len(ports) > 0 && ratio(top, own) >= c.ServerShare && ports[0].k&0xffff < 49152 && spokeShare >= c.Answered {
		r.Role = Server
		switch ports[0].k {
		case 17<<16 | 53, 6<<16 | 53:
			r.Role = DNS
		case 17<<16 | 123:
			r.Role = NTP
		}
		r.Detail = "answers from " + strings.Join(names, ", ")
		r.Figures = []Figure{{Name: "peers", Value: float64(peers), Threshold: float64(c.MinPeers)},
			{Name: "share of its flows (refusals aside) answering from them", Value: ratio(top, own), Threshold: c.ServerShare},
			{Name: "share of peers that sent to it", Value: spokeShare, Threshold: c.Answered}}
		return r, true
	}
	// Monitoring: the same targets at a fixed period, mostly answered.
	// Before the relay: a monitor that checks mail servers reaches many
	// port-25 hosts that answer, and its period is the surer sign.
	periodic, rounds := t.periodic, t.rounds
	answer := float64(answered) / float64(max(outPeers, 1))
	if periodic >= 3 && float64(rounds) >= 0.5*float64(h.flows) && answer >= c.Answered {
		r.Role = Monitoring
		r.Figures = []Figure{{Name: "periodic targets", Value: float64(periodic), Threshold: 3},
			{Name: "share of flows to them", Value: float64(rounds) / float64(h.flows), Threshold: 0.5},
			{Name: "share of peers that answered", Value: answer, Threshold: c.Answered}}
		r.Detail = fmt.Sprintf("%d targets, >= %d contacts each, interval jitter <= %.2f", periodic, c.MinRounds, c.MaxJitter)
		return r, true
	}
	// Mail relay: reaches many port-25 hosts, which answer.
	if len(h.smtpPeers) >= c.MinPeers {
		ans := 0
		self := addrkey.Of(addr)
		for p := range h.smtpPeers {
			ref := refOf(self, p)
			if st := a.pairs.get(&ref); st != nil && st.view(ref.sa)&vIn != 0 {
				ans++
			}
		}
		if share := float64(ans) / float64(len(h.smtpPeers)); share >= c.Answered {
			r.Role = MailRelay
			r.Figures = []Figure{{Name: "port-25 peers", Value: float64(len(h.smtpPeers)), Threshold: float64(c.MinPeers)},
				{Name: "share that answered", Value: share, Threshold: c.Answered}}
			return r, true
		}
	}
	// P2P client: many peers on high ports, most of which answer.
	if outPeers >= c.MinPeers && ratio(h.highDst, h.flows) >= c.HighPorts && answer >= c.P2PAnswered {
		r.Role = P2P
		r.Figures = []Figure{{Name: "peers contacted", Value: float64(outPeers), Threshold: float64(c.MinPeers)},
			{Name: "share of flows to ports >= 1024", Value: ratio(h.highDst, h.flows), Threshold: c.HighPorts},
			{Name: "share of peers that answered", Value: answer, Threshold: c.P2PAnswered}}
		return r, true
	}
	// A busy client: nearly every peer it contacted answered, and its
	// connections carry data. A scan leaves peers silent or refusing, and
	// a connect scan of ports that are open opens and closes without a
	// byte (3 packets); a client that reaches hundreds of hosts that all
	// answer and talks to them is browsing, syncing or polling.
	if outPeers >= c.MinPeers && answer >= c.ClientAnswered && ratio(h.bare, h.tcp) <= 0.5 {
		r.Role = Client
		r.Figures = []Figure{{Name: "peers contacted", Value: float64(outPeers), Threshold: float64(c.MinPeers)},
			{Name: "share of peers that answered", Value: answer, Threshold: c.ClientAnswered},
			{Name: "share of its TCP flows without data (<= 3 packets)", Value: ratio(h.bare, h.tcp), Threshold: 0.5, AtMost: true}}
		return r, true
	}
	return Role{}, false
}

func ratio(a, b uint64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func protoPort(k uint32) string {
	p := k >> 16
	name := map[uint32]string{6: "tcp", 17: "udp", 132: "sctp"}[p]
	if name == "" {
		return fmt.Sprintf("proto %d", p)
	}
	return fmt.Sprintf("%s/%d", name, k&0xffff)
}

// WritePart writes the roles of the hosts of this shard.
func (a *Analyser) WritePart(w io.Writer) error { return gob.NewEncoder(w).Encode(a.Roles()) }

// MergePart adds the roles of another shard.
func (a *Analyser) MergePart(r io.Reader) error {
	var rs []Role
	if err := gob.NewDecoder(r).Decode(&rs); err != nil {
		return fmt.Errorf("roles: read part: %w", err)
	}
	a.done = append(a.done, rs...)
	return nil
}
