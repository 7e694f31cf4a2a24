package samples

import (
	"net/netip"
	"time"

	"github.com/flowsift/flowsift/flow"
)

// Truth is the ground truth of an archive: its settings, the site's
// address plan and every event injected into the benign traffic.
type Truth struct {
	Generator string   `json:"generator"`
	Seed      uint64   `json:"seed"`
	Flows     int      `json:"flows"`
	Start     string   `json:"start"`
	Hours     int      `json:"hours"`
	Local     []string `json:"local"`
	Plan      []Range  `json:"plan"`
	Events    []Event  `json:"events"`
	// Partial is the tmp- file (path relative to the tree) when
	// Config.Partial asked for one; its flows are counted in Flows but a
	// reader recovers only those before the cut.
	Partial string `json:"partial,omitempty"`
	// BackgroundSources is Config.BackgroundSources: sources that each
	// sent BackgroundFlows unanswered probes and are no scanner.
	BackgroundSources int `json:"background_sources,omitempty"`
}

// Range is one block of the address plan.
type Range struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"` // "static" or "dhcp"
	First string `json:"first"`
	Last  string `json:"last"`
}

// Event is one injected behaviour. Scanner says whether a scan detector
// should report Src; Malicious whether an operator should act on it.
type Event struct {
	ID        string   `json:"id"`
	Kind      string   `json:"kind"`
	Src       string   `json:"src"`
	Scanner   bool     `json:"scanner"`
	Malicious bool     `json:"malicious"`
	Proto     uint8    `json:"proto,omitempty"`
	Ports     []uint16 `json:"ports,omitempty"`
	Targets   int      `json:"targets,omitempty"`
	Flows     int      `json:"flows"`
	Start     string   `json:"start"`
	End       string   `json:"end"`
	Note      string   `json:"note"`
}

func (g *gen) stamp(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z")
}

// event runs f, which adds flows, and records what it added.
func (g *gen) event(t *Truth, e Event, f func()) {
	first := len(g.flows)
	f()
	lo, hi := int64(1<<62), int64(0)
	for _, r := range g.flows[first:] {
		lo, hi = min(lo, r.Start), max(hi, r.End)
	}
	e.Flows = len(g.flows) - first
	e.Start, e.End = g.stamp(lo), g.stamp(hi)
	t.Events = append(t.Events, e)
}

// at is a time inside the window, as a fraction of it.
func (g *gen) at(frac float64) int64 { return g.t0 + int64(frac*float64(g.span)) }

const syn, synRst = flow.TCPSyn, flow.TCPSyn | flow.TCPRst

func (g *gen) inject(t *Truth) {
	// A: fast horizontal sweep of TCP/22, 30 hosts a second.
	g.event(t, Event{ID: "A", Kind: "host-scan", Src: "203.0.113.45", Scanner: true, Malicious: true, Proto: 6, Ports: []uint16{22}, Targets: 300,
		Note: "fast sweep of 10.20.2.1-10.20.3.44, SYN only, 30 hosts/s"}, func() {
		s, t0 := a("203.0.113.45"), g.at(0.12)
		for i := 0; i < 300; i++ {
			d := netip.AddrFrom4([4]byte{10, 20, byte(2 + (i+1)/256), byte((i + 1) % 256)})
			g.add(t0+int64(i)*33, 0, s, d, uint16(40000+g.r.IntN(20000)), 22, 6, 1, 44, syn)
		}
	})
	// B: vertical scan of one server, TCP 1-1023.
	g.event(t, Event{ID: "B", Kind: "port-scan", Src: "192.0.2.77", Scanner: true, Malicious: true, Proto: 6, Targets: 1,
		Note: "TCP ports 1-1023 of 10.20.1.10 at 40 ports/s; closed ports answer RST"}, func() {
		s, d, t0 := a("192.0.2.77"), webServers[0], g.at(0.3)
		for p := 1; p <= 1023; p++ {
			g.add(t0+int64(p)*25, 0, s, d, 51000, uint16(p), 6, 1, 44, syn)
			if p != 80 && p != 443 && p != 22 {
				g.add(t0+int64(p)*25+1, 0, d, s, uint16(p), 51000, 6, 1, 40, flow.TCPRst|flow.TCPAck)
			}
		}
	})
	// C: slow sweep of TCP/3389 across the whole window.
	g.event(t, Event{ID: "C", Kind: "slow-scan", Src: "100.64.106.152", Scanner: true, Malicious: true, Proto: 6, Ports: []uint16{3389}, Targets: 260,
		Note: "260 hosts of 10.20.2-3.0/24 spread evenly over the window"}, func() {
		s := a("100.64.106.152")
		for i := 0; i < 260; i++ {
			d := netip.AddrFrom4([4]byte{10, 20, byte(2 + i%2), byte(1 + i/2)})
			g.add(g.at(0.02+0.95*float64(i)/260), 0, s, d, uint16(30000+g.r.IntN(30000)), 3389, 6, 1, 48, syn)
		}
	})
	// D: a small scan, under every count threshold of flow-dscan.
	g.event(t, Event{ID: "D", Kind: "small-scan", Src: "198.51.100.23", Scanner: true, Malicious: true, Proto: 6, Ports: []uint16{445}, Targets: 20,
		Note: "20 hosts on TCP/445 in 10 s, SYN then RST from the target"}, func() {
		s, t0 := a("198.51.100.23"), g.at(0.45)
		for i := 0; i < 20; i++ {
			d := netip.AddrFrom4([4]byte{10, 20, 3, byte(100 + i)})
			g.add(t0+int64(i)*500, 0, s, d, uint16(50000+i), 445, 6, 2, 88, syn)
			g.add(t0+int64(i)*500+2, 0, d, s, 445, uint16(50000+i), 6, 1, 40, flow.TCPRst|flow.TCPAck)
		}
	})
	// E: a scan hidden in a busy client's ordinary traffic.
	g.event(t, Event{ID: "E", Kind: "hidden-scan", Src: "10.20.2.150", Scanner: true, Malicious: true, Proto: 6, Ports: []uint16{3389}, Targets: 120,
		Note: "busy DHCP client that also probes 120 internal hosts on TCP/3389 over 40 minutes"}, func() {
		s, t0 := a("10.20.2.150"), g.at(0.55)
		for i := 0; i < 120; i++ {
			d := netip.AddrFrom4([4]byte{10, 20, 3, byte(1 + i)})
			g.add(t0+int64(i)*20_000, 0, s, d, uint16(49000+i), 3389, 6, 2, 96, synRst)
		}
		for i := 0; i < 400; i++ {
			srv := g.ext[g.r.IntN(len(g.ext))]
			g.session(g.when(), s, srv, 443, 6, 10, 900, 20, 24000, int64(500+g.r.IntN(9000)))
		}
	})
	// F: an infected internal host sweeping the Internet on TCP/445.
	g.event(t, Event{ID: "F", Kind: "infected-host", Src: "10.20.3.66", Scanner: true, Malicious: true, Proto: 6, Ports: []uint16{445}, Targets: 300,
		Note: "SYNs to 300 random Internet hosts, 5 a second"}, func() {
		s, t0 := a("10.20.3.66"), g.at(0.7)
		for i := 0; i < 300; i++ {
			g.add(t0+int64(i)*200, 0, s, g.externalAddr(), uint16(45000+i), 445, 6, 1, 48, syn)
		}
	})
	// G: UDP port scan (fast, privileged ports) of the mail server.
	g.event(t, Event{ID: "G", Kind: "port-scan", Src: "198.18.7.9", Scanner: true, Malicious: true, Proto: 17, Targets: 1,
		Note: "UDP ports 1-200 of 10.20.1.25, 10 ports/s"}, func() {
		s, t0 := a("198.18.7.9"), g.at(0.8)
		for p := 1; p <= 200; p++ {
			g.add(t0+int64(p)*100, 0, s, mailServer, 41000, uint16(p), 17, 1, 29, 0)
		}
	})
	// H: heavy flows (excessive octets, packets, duration), all legitimate.
	g.event(t, Event{ID: "H", Kind: "heavy-flow", Src: fileServer.String(), Scanner: false, Malicious: false, Proto: 6, Ports: []uint16{873}, Targets: 1,
		Note: "nightly rsync backup 10.20.1.30 -> 10.20.1.40: 4e9 octets, 2.8e6 packets, 40 minutes; and a 2-hour SSH session"}, func() {
		t0 := g.at(0.2)
		g.add(t0, 2_400_000, fileServer, backupHost, 40123, 873, 6, 2_800_000, 4_000_000_000, flow.TCPSyn|flow.TCPAck|flow.TCPPsh|flow.TCPFin)
		g.add(t0+60_000, 7_200_000, fileServer, backupHost, 40200, 22, 6, 90_000, 20_000_000, flow.TCPSyn|flow.TCPAck|flow.TCPPsh)
	})
	// Busy benign servers: many peers, all replies from a service port.
	for _, b := range []struct{ id, src, note string }{
		{"S1", dnsServer.String(), "resolver answering every client from UDP/53"},
		{"S2", webServers[0].String(), "web server answering Internet visitors from TCP/443"},
		{"S3", mailServer.String(), "mail server answering MTAs and IMAP clients"},
		{"S4", fileServer.String(), "file server answering SMB clients from TCP/445"},
	} {
		t.Events = append(t.Events, Event{ID: b.id, Kind: "busy-server", Src: b.src, Scanner: false, Malicious: false,
			Start: g.stamp(g.t0), End: g.stamp(g.t0 + g.span), Note: b.note + " (part of the benign traffic)"})
	}
	// P: a host outside the address plan, browsing normally.
	g.event(t, Event{ID: "P", Kind: "outside-plan", Src: "10.20.1.177", Scanner: false, Malicious: true,
		Note: "address in no static or DHCP range of the plan"}, func() {
		s := a("10.20.1.177")
		for i := 0; i < 30; i++ {
			g.session(g.when(), s, g.ext[g.r.IntN(len(g.ext))], 443, 6, 10, 900, 12, 12000, 2000)
		}
	})
	// Q: a host talking to special-purpose networks.
	g.event(t, Event{ID: "Q", Kind: "bogon-talker", Src: "10.20.3.140", Scanner: false, Malicious: true, Proto: 17,
		Note: "UDP to 240.0.0.0/4 (reserved) and 169.254.0.0/16 (link-local) addresses"}, func() {
		s := a("10.20.3.140")
		for i := 0; i < 12; i++ {
			d := netip.AddrFrom4([4]byte{240, 0, 0, byte(1 + i)})
			if i%2 == 1 {
				d = netip.AddrFrom4([4]byte{169, 254, 7, byte(i)})
			}
			g.add(g.when(), 10, s, d, 5353, 5353, 17, 2, 180, 0)
		}
	})
	// R: the proxy speaking SMTP, which its role never allows.
	g.event(t, Event{ID: "R", Kind: "policy-port", Src: proxyHost.String(), Scanner: false, Malicious: true, Proto: 6, Ports: []uint16{25},
		Note: "the web proxy opens SMTP sessions to 8 Internet mail servers"}, func() {
		for i := 0; i < 8; i++ {
			g.session(g.when(), proxyHost, g.ext[g.r.IntN(len(g.ext))], 25, 6, 14, 20000, 10, 1200, 3000)
		}
	})
}
