// Package samples makes realistic, deterministic flow-capture archives
// with known scans in them: the sample archive checked in beside this file,
// the trees benchmarks run on, and the ground truth the detectors are
// scored against.
package samples

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/flowsift/flowsift/flow"
)

// Config says what to generate. The same Config gives the same bytes.
type Config struct {
	Seed  uint64
	Flows int       // total flows, injected events included (at least 20,000)
	Start time.Time // first 15-minute period (UTC)
	Hours int       // length of the window
	// Partial leaves the last period as a killed capture's tmp- file
	// (truncated zlib stream), for tests of partial-file handling.
	Partial bool
	// BackgroundSources adds that many external sources, each new, each
	// sending BackgroundFlows unanswered probes (see background): the
	// distinct sources of a site that receives Internet background
	// radiation. Their flows count in Flows.
	BackgroundSources int
}

// Defaults fills zero fields: 60,000 flows over 6 hours from 2026-11-20 00:00 UTC.
func (c Config) Defaults() Config {
	if c.Flows == 0 {
		c.Flows = 60000
	}
	if c.Start.IsZero() {
		c.Start = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	}
	if c.Hours == 0 {
		c.Hours = 6
	}
	c.Start = c.Start.UTC().Truncate(15 * time.Minute)
	return c
}

// The site's address plan (also written into the truth file).
var (
	localNets = []string{"10.20.0.0/16", "172.16.8.0/24", "192.168.50.0/24"}
	plan      = []Range{
		{"servers", "static", "10.20.1.1", "10.20.1.159"},
		{"client-static", "static", "10.20.2.1", "10.20.2.99"},
		{"clients-dhcp-a", "dhcp", "10.20.2.100", "10.20.2.250"},
		{"clients-dhcp-b", "dhcp", "10.20.3.100", "10.20.3.250"},
		{"guests", "dhcp", "172.16.8.10", "172.16.8.250"},
		{"dmz", "static", "192.168.50.1", "192.168.50.20"},
	}
)

// Well-known hosts of the sample site.
var (
	dnsServer  = a("10.20.1.53")
	ntpServer  = a("10.20.1.123")
	webServers = []netip.Addr{a("10.20.1.10"), a("10.20.1.11"), a("192.168.50.5")}
	mailServer = a("10.20.1.25")
	fileServer = a("10.20.1.30")
	backupHost = a("10.20.1.40")
	ldapServer = a("10.20.1.60")
	proxyHost  = a("10.20.2.8")
)

func a(s string) netip.Addr { return netip.MustParseAddr(s) }

// gen carries the random source and the flows made so far.
type gen struct {
	r     *rand.Rand
	cfg   Config
	t0    int64 // window start, ms
	span  int64 // window length, ms
	flows []flow.Record
	ext   []netip.Addr // external servers
	extAS []uint32
	cli   []netip.Addr // internal clients
}

// Generate makes the flows of an archive, sorted by end time, and its
// ground truth.
func Generate(cfg Config) ([]flow.Record, *Truth, error) {
	cfg = cfg.Defaults()
	if cfg.Flows < 20000 {
		return nil, nil, fmt.Errorf("samples: at least 20000 flows, got %d", cfg.Flows)
	}
	if cfg.Hours < 1 || cfg.Hours > 24*31 {
		return nil, nil, fmt.Errorf("samples: hours %d out of range 1..744", cfg.Hours)
	}
	g := &gen{r: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9E3779B97F4A7C15)), cfg: cfg,
		t0: cfg.Start.UnixMilli(), span: int64(cfg.Hours) * 3600_000}
	// Sessions overshoot the target by at most a few flows: one allocation.
	g.flows = make([]flow.Record, 0, cfg.Flows+8)
	for i := 0; i < 3000; i++ {
		g.ext = append(g.ext, g.externalAddr())
		g.extAS = append(g.extAS, uint32(1000+g.r.IntN(60000)))
	}
	for i := 0; i < 400; i++ {
		g.cli = append(g.cli, g.clientAddr())
	}
	truth := &Truth{Generator: "flowsift samples", Seed: cfg.Seed, Flows: cfg.Flows,
		Start: cfg.Start.Format(time.RFC3339), Hours: cfg.Hours, Local: localNets, Plan: plan}
	g.inject(truth)
	if n := cfg.BackgroundSources; n != 0 {
		if n < 0 || n*BackgroundFlows > cfg.Flows-len(g.flows) {
			return nil, nil, fmt.Errorf("samples: %d background sources need %d flows; %d flows leave %d after the injected events",
				n, n*BackgroundFlows, cfg.Flows, cfg.Flows-len(g.flows))
		}
		if err := g.background(n); err != nil {
			return nil, nil, err
		}
		truth.BackgroundSources = n
	}
	g.benign(cfg.Flows - len(g.flows))
	slices.SortStableFunc(g.flows, func(x, y flow.Record) int { return cmp.Compare(x.End, y.End) })
	return g.flows, truth, nil
}

func (g *gen) externalAddr() netip.Addr {
	for {
		b := [4]byte{byte(1 + g.r.IntN(222)), byte(g.r.IntN(256)), byte(g.r.IntN(256)), byte(1 + g.r.IntN(254))}
		ad := netip.AddrFrom4(b)
		if ad.IsPrivate() || b[0] == 100 || b[0] == 127 || b[0] == 198 || b[0] == 192 || b[0] == 203 || b[0] == 169 {
			continue
		}
		return ad
	}
}

func (g *gen) clientAddr() netip.Addr {
	switch g.r.IntN(5) {
	case 0:
		return netip.AddrFrom4([4]byte{172, 16, 8, byte(10 + g.r.IntN(241))})
	case 1, 2:
		return netip.AddrFrom4([4]byte{10, 20, 2, byte(100 + g.r.IntN(151))})
	default:
		return netip.AddrFrom4([4]byte{10, 20, 3, byte(100 + g.r.IntN(151))})
	}
}

// ifIndex places an address on the sample router's interfaces: 1 and 2
// are the Internet uplinks, 10-13 the inside networks, 20 the DMZ.
func ifIndex(ad netip.Addr, uplink uint32) uint32 {
	b := ad.As4()
	switch {
	case b[0] == 10 && b[1] == 20 && b[2] == 1:
		return 10
	case b[0] == 10 && b[1] == 20 && b[2] == 2:
		return 11
	case b[0] == 10 && b[1] == 20:
		return 12
	case b[0] == 172 && b[1] == 16:
		return 13
	case b[0] == 192 && b[1] == 168:
		return 20
	case ad.IsMulticast():
		return 0
	}
	return uplink
}

func isLocal(ad netip.Addr) bool {
	for _, n := range localNets {
		if netip.MustParsePrefix(n).Contains(ad) {
			return true
		}
	}
	return false
}

// add records one unidirectional flow.
func (g *gen) add(start, dur int64, src, dst netip.Addr, sp, dp uint16, proto uint8, pkts, bytes uint64, flags uint8) {
	if dur < 0 {
		dur = 0
	}
	up := uint32(1 + g.r.IntN(2))
	r := flow.Record{
		Start: start, End: start + dur, Src: src, Dst: dst, SrcPort: sp, DstPort: dp, Proto: proto,
		Packets: max(pkts, 1), Octets: max(bytes, 40), TCPFlags: flags,
		Input: ifIndex(src, up), Output: ifIndex(dst, up),
		Exporter: a("127.0.0.2"), EngineType: 0, EngineID: 1,
		Fields: 0x000000000FFF37EF,
	}
	if proto != 6 {
		r.TCPFlags = 0
	}
	if isLocal(dst) {
		r.DstMask = 24
	} else {
		r.DstMask, r.Nexthop = uint8(16+g.r.IntN(9)), a("10.255.0.1")
		r.DstAS = uint32(1000 + (flow.AddrU32(dst) % 60000))
	}
	if isLocal(src) {
		r.SrcMask = 24
	} else {
		r.SrcMask = uint8(16 + g.r.IntN(9))
		r.SrcAS = uint32(1000 + (flow.AddrU32(src) % 60000))
	}
	g.flows = append(g.flows, r)
}

// session adds a request flow and its reply.
func (g *gen) session(start int64, cli, srv netip.Addr, dport uint16, proto uint8, reqPkts, reqBytes, repPkts, repBytes uint64, dur int64) {
	sp := uint16(1024 + g.r.IntN(64000))
	fl := uint8(0)
	if proto == 6 {
		fl = flow.TCPSyn | flow.TCPAck | flow.TCPPsh | flow.TCPFin
	}
	g.add(start, dur, cli, srv, sp, dport, proto, reqPkts, reqBytes, fl)
	g.add(start+int64(g.r.IntN(40)), dur, srv, cli, dport, sp, proto, repPkts, repBytes, fl)
}

func (g *gen) when() int64 { return g.t0 + g.r.Int64N(g.span-120_000) }

// benign fills n flows with the site's ordinary traffic.
func (g *gen) benign(n int) {
	target := len(g.flows) + n
	for len(g.flows) < target {
		t := g.when()
		c := g.cli[g.r.IntN(len(g.cli))]
		switch k := g.r.IntN(100); {
		case k < 38: // web browsing
			s := g.ext[g.r.IntN(len(g.ext))]
			port := uint16(443)
			if g.r.IntN(5) == 0 {
				port = 80
			}
			rp := uint64(4 + g.r.IntN(60))
			g.session(t, c, s, port, 6, rp, rp*80, rp*2, rp*2*1200, int64(200+g.r.IntN(30000)))
		case k < 46: // QUIC
			s := g.ext[g.r.IntN(60)]
			rp := uint64(6 + g.r.IntN(80))
			g.session(t, c, s, 443, 17, rp, rp*90, rp*2, rp*2*1250, int64(500+g.r.IntN(20000)))
		case k < 62: // DNS to the resolver, and the resolver upstream
			g.session(t, c, dnsServer, 53, 17, 1, 60+uint64(g.r.IntN(30)), 1, 120+uint64(g.r.IntN(200)), int64(g.r.IntN(30)))
			if g.r.IntN(3) == 0 {
				g.session(t+5, dnsServer, g.ext[g.r.IntN(40)], 53, 17, 1, 70, 1, 300, int64(g.r.IntN(50)))
			}
		case k < 66: // NTP
			g.session(t, c, ntpServer, 123, 17, 1, 76, 1, 76, 1)
		case k < 72: // visitors to the web servers
			v := g.ext[g.r.IntN(len(g.ext))]
			rp := uint64(5 + g.r.IntN(30))
			g.session(t, v, webServers[g.r.IntN(len(webServers))], 443, 6, rp, rp*90, rp*2, rp*2*1300, int64(300+g.r.IntN(8000)))
		case k < 76: // mail in and IMAP
			if g.r.IntN(2) == 0 {
				g.session(t, g.ext[g.r.IntN(len(g.ext))], mailServer, 25, 6, 12, 9000, 10, 1200, int64(800+g.r.IntN(3000)))
			} else {
				g.session(t, c, mailServer, 993, 6, 15, 2000, 20, 30000, int64(1000+g.r.IntN(60000)))
			}
		case k < 82: // file server
			g.session(t, c, fileServer, 445, 6, 40, 6000, 60, 80000, int64(1000+g.r.IntN(120000)))
		case k < 85: // LDAP / Kerberos
			port := []uint16{389, 636, 88, 464}[g.r.IntN(4)]
			g.session(t, c, ldapServer, port, 6, 6, 900, 6, 2500, int64(50+g.r.IntN(500)))
		case k < 87: // SSH to servers
			g.session(t, c, []netip.Addr{fileServer, mailServer, backupHost}[g.r.IntN(3)], 22, 6, 200, 30000, 220, 60000, int64(60000+g.r.IntN(600000)))
		case k < 90: // the proxy fetching for clients
			s := g.ext[g.r.IntN(len(g.ext))]
			g.session(t, proxyHost, s, []uint16{80, 443}[g.r.IntN(2)], 6, 8, 900, 12, 14000, int64(200+g.r.IntN(9000)))
		case k < 93: // ICMP echo
			s := g.ext[g.r.IntN(len(g.ext))]
			g.add(t, 3000, c, s, 0, 8*256, 1, 4, 336, 0)
			g.add(t+20, 3000, s, c, 0, 0, 1, 4, 336, 0)
		default: // Internet background: stray SYNs to the site
			src := g.ext[g.r.IntN(len(g.ext))]
			dst := netip.AddrFrom4([4]byte{10, 20, byte(1 + g.r.IntN(3)), byte(1 + g.r.IntN(254))})
			g.add(t, 0, src, dst, uint16(1024+g.r.IntN(60000)), []uint16{22, 23, 445, 3389, 8080, 5060}[g.r.IntN(6)], 6, 1, 44, flow.TCPSyn)
		}
	}
	// A session adds two to four flows: trim the last one's excess.
	g.flows = g.flows[:target]
}
