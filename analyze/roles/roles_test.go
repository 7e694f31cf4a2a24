package roles

import (
	"bytes"
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/analyze/internal/addrkey"
	"github.com/flowsift/flowsift/flow"
)

func fl(t int64, src string, sp uint16, dst string, dp uint16, proto, flags uint8, pk uint64) flow.Record {
	return flow.Record{Start: t, End: t + 10, Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst),
		SrcPort: sp, DstPort: dp, Proto: proto, TCPFlags: flags, Packets: pk, Octets: pk * 100}
}

const est = flow.TCPSyn | flow.TCPAck | flow.TCPPsh | flow.TCPFin

// lab builds one of each role and two scanners, sorted by end time.
func lab() []flow.Record {
	var r []flow.Record
	client := func(i int) string { return fmt.Sprintf("10.1.0.%d", 10+i%40) }
	for i := range 400 {
		t := int64(i) * 1000
		c := client(i)
		// DNS and NTP servers answer their clients.
		r = append(r, fl(t, c, uint16(30000+i), "10.0.0.53", 53, 17, 0, 1), fl(t+1, "10.0.0.53", 53, c, uint16(30000+i), 17, 0, 1))
		r = append(r, fl(t+2, c, 123, "10.0.0.123", 123, 17, 0, 1), fl(t+3, "10.0.0.123", 123, c, 123, 17, 0, 1))
		// A web server.
		r = append(r, fl(t+4, c, uint16(40000+i), "10.0.0.80", 443, 6, est, 12), fl(t+5, "10.0.0.80", 443, c, uint16(40000+i), 6, est, 20))
	}
	// A mail relay delivers to 30 MX hosts, 28 answer.
	for i := range 30 {
		t := int64(i) * 7000
		mx := fmt.Sprintf("10.2.0.%d", i+1)
		r = append(r, fl(t, "10.0.0.25", uint16(50000+i), mx, 25, 6, est, 14))
		if i >= 2 {
			r = append(r, fl(t+1, mx, 25, "10.0.0.25", uint16(50000+i), 6, est, 10))
		}
	}
	// A P2P client: 60 peers on high ports, 45 answer.
	for i := range 60 {
		t := int64(i) * 2000
		p := fmt.Sprintf("10.3.0.%d", i+1)
		r = append(r, fl(t, "10.0.0.31", uint16(20000+i), p, uint16(6881+i%9), 17, 0, 2))
		if i%4 != 0 {
			r = append(r, fl(t+1, p, uint16(6881+i%9), "10.0.0.31", uint16(20000+i), 17, 0, 2))
		}
	}
	// A monitoring host checks 4 services of 3 hosts every 30 s.
	for round := range 20 {
		t := int64(round)*30_000 + int64(round%3)*200
		for j, d := range []string{"10.4.0.1", "10.4.0.2", "10.4.0.3"} {
			for k, p := range []uint16{22, 80, 443, 25} {
				sp := uint16(30000 + round*16 + j*4 + k)
				r = append(r, fl(t+int64(j*4+k), "10.0.0.32", sp, d, p, 6, est, 4), fl(t+int64(j*4+k)+1, d, p, "10.0.0.32", sp, 6, est, 4))
			}
		}
		// and 8 other hosts now and then, so it has peers enough
		for j := range 8 {
			d := fmt.Sprintf("10.4.1.%d", j+1)
			r = append(r, fl(t+100, "10.0.0.32", 0, d, 0x0800, 1, 0, 1), fl(t+101, d, 0, "10.0.0.32", 0, 1, 0, 1))
		}
	}
	// A scanner: SYNs to 200 hosts, refused by 50.
	for i := range 200 {
		t := int64(i) * 50
		d := fmt.Sprintf("10.5.%d.%d", i/250, i%250+1)
		r = append(r, fl(t, "10.0.0.66", 40000, d, 445, 6, flow.TCPSyn, 1))
		if i%4 == 0 {
			r = append(r, fl(t+1, d, 445, "10.0.0.66", 40000, 6, flow.TCPRst|flow.TCPAck, 1))
		}
	}
	// A web server that also scans: answers 200 connections on 80,
	// probes 30 hosts' port 22 that refuse.
	for i := range 200 {
		c := client(i)
		r = append(r, fl(int64(i)*100, c, uint16(41000+i), "10.0.0.81", 80, 6, est, 8), fl(int64(i)*100+1, "10.0.0.81", 80, c, uint16(41000+i), 6, est, 9))
	}
	for i := range 30 {
		d := fmt.Sprintf("10.6.0.%d", i+1)
		r = append(r, fl(int64(i)*90, "10.0.0.81", 80, d, 22, 6, flow.TCPSyn, 1), fl(int64(i)*90+1, d, 22, "10.0.0.81", 80, 6, flow.TCPRst|flow.TCPAck, 1))
	}
	// A busy client: 300 web sites, every one answers.
	for i := range 300 {
		d := fmt.Sprintf("10.7.%d.%d", i/200, i%200+1)
		t := int64(i) * 700
		r = append(r, fl(t, "10.0.0.27", uint16(42000+i), d, 443, 6, est, 12), fl(t+1, d, 443, "10.0.0.27", uint16(42000+i), 6, est, 20))
	}
	// A connect scan of 300 hosts whose port 22 is open: every one
	// answers, but each connection is opened and closed at once.
	for i := range 300 {
		d := fmt.Sprintf("10.9.%d.%d", i/200, i%200+1)
		t := int64(i) * 300
		r = append(r, fl(t, "10.0.0.151", uint16(44000+i), d, 22, 6, flow.TCPSyn|flow.TCPAck|flow.TCPFin, 3), fl(t+1, d, 22, "10.0.0.151", uint16(44000+i), 6, est, 3))
	}
	// A hidden scanner: 300 hosts on two ports, one in four silent.
	for i := range 300 {
		d := fmt.Sprintf("10.8.%d.%d", i/200, i%200+1)
		t := int64(i) * 700
		r = append(r, fl(t, "10.0.0.150", uint16(43000+i), d, uint16(80+i%2), 6, est, 5))
		if i%4 != 0 {
			r = append(r, fl(t+1, d, uint16(80+i%2), "10.0.0.150", uint16(43000+i), 6, est, 5))
		}
	}
	slices.SortStableFunc(r, func(a, b flow.Record) int { return cmp.Compare(a.End, b.End) })
	return r
}

func TestRoles(t *testing.T) {
	a := New(DefaultConfig())
	a.Add(lab())
	got := map[string]Role{}
	for _, r := range a.Roles() {
		got[r.Addr.String()] = r
	}
	want := map[string]string{"10.0.0.53": DNS, "10.0.0.123": NTP, "10.0.0.80": Server, "10.0.0.25": MailRelay,
		"10.0.0.31": P2P, "10.0.0.32": Monitoring, "10.0.0.81": Server, "10.0.0.27": Client}
	for addr, role := range want {
		r, ok := got[addr]
		if !ok || r.Role != role {
			t.Errorf("%s: role %q (%s), want %q", addr, r.Role, r.Why(), role)
		}
		if scan := addr == "10.0.0.81"; r.ScanSigns != scan {
			t.Errorf("%s: scan signs %v (%v), want %v", addr, r.ScanSigns, r.ScanFigs, scan)
		}
	}
	for _, scanner := range []string{"10.0.0.66", "10.0.0.150", "10.0.0.151"} {
		if r, ok := got[scanner]; ok {
			t.Errorf("scanner %s has role %s", scanner, r.Why())
		}
	}
	if w := got["10.0.0.53"].Why(); w != "dns server (answers from udp/53): peers 40 (>= 10), share of its flows (refusals aside) answering from them 1 (>= 0.80), share of peers that sent to it 1 (>= 0.80)" {
		t.Errorf("why %q", w)
	}
	if w := got["10.0.0.25"].Why(); !strings.Contains(w, "port-25 peers 30 (>= 10), share that answered 0.93 (>= 0.80)") {
		t.Errorf("relay why %q", w)
	}
}

func TestShardsMerge(t *testing.T) {
	recs := lab()
	whole := New(DefaultConfig())
	whole.Add(recs)
	var parts []*bytes.Buffer
	for i := range 3 {
		c := DefaultConfig()
		c.Shard = analyze.Shard{Index: i, Count: 3}
		a := New(c)
		a.Add(recs)
		var b bytes.Buffer
		if err := a.WritePart(&b); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, &b)
	}
	m := New(DefaultConfig())
	for _, p := range parts {
		if err := m.MergePart(p); err != nil {
			t.Fatal(err)
		}
	}
	if g, w := fmt.Sprint(m.Roles()), fmt.Sprint(whole.Roles()); g != w {
		t.Fatalf("merged\n%s\nwhole\n%s", g, w)
	}
}

// Background radiation fills the table (sources of one probe each) before
// the lab's servers appear: the sources with the fewest peers are
// forgotten to make room, and every server still gets its role. Before,
// the table stopped following new hosts once full, and the servers got
// none.
func TestFullTableForgetsTheQuietest(t *testing.T) {
	c := DefaultConfig()
	c.MaxHosts = 400
	a := New(c)
	var noise []flow.Record
	for i := range 5000 {
		src := fmt.Sprintf("198.51.%d.%d", i/250, i%250+1)
		noise = append(noise, fl(int64(i), src, 40000, "10.0.0.1", 23, 6, flow.TCPSyn, 1))
	}
	a.Add(noise)
	base := int64(len(noise))
	recs := lab()
	for i := range recs {
		recs[i].Start += base
		recs[i].End += base
	}
	a.Add(recs)
	got := map[string]string{}
	for _, r := range a.Roles() {
		got[r.Addr.String()] = r.Role
	}
	for addr, role := range map[string]string{"10.0.0.53": DNS, "10.0.0.123": NTP, "10.0.0.80": Server, "10.0.0.25": MailRelay} {
		if got[addr] != role {
			t.Errorf("%s: role %q, want %q", addr, got[addr], role)
		}
	}
	if a.full || a.forgotten == 0 || a.presses > 2*(5000+100)/(c.MaxHosts/4) {
		t.Errorf("full %v, forgotten %d, sweeps %d", a.full, a.forgotten, a.presses)
	}
}

// A server whose clients come slowly (one every 40 background sources)
// keeps its count through the sweeps of a full table: hosts that answered
// nobody and that no peer sent to (background sources, here of three
// probes each) are forgotten before a host with fewer peers that answers.
func TestFullTableKeepsAServerInTheMaking(t *testing.T) {
	c := DefaultConfig()
	c.MaxHosts = 40
	a := New(c)
	at := int64(0)
	client := func(i int) {
		cl := fmt.Sprintf("10.1.0.%d", i+1)
		a.Add([]flow.Record{fl(at, cl, uint16(40000+i), "10.0.0.80", 443, 6, est, 12), fl(at+1, "10.0.0.80", 443, cl, uint16(40000+i), 6, est, 20)})
		at += 2
	}
	for i := range 480 {
		if i%40 == 0 {
			client(i / 40)
		}
		src := fmt.Sprintf("198.51.%d.%d", i/250, i%250+1)
		for d := range 3 {
			a.Add([]flow.Record{fl(at, src, 40000, fmt.Sprintf("10.9.0.%d", d+1), 23, 6, flow.TCPSyn, 1)})
			at++
		}
	}
	var role string
	for _, r := range a.Roles() {
		if r.Addr.String() == "10.0.0.80" {
			role = r.Role
		}
	}
	if role != Server || a.presses == 0 {
		t.Fatalf("role %q after %d sweeps, want %q", role, a.presses, Server)
	}
}

// A forgotten host kept for reuse comes back empty but for its address.
func TestSpareHostEmptied(t *testing.T) {
	a := New(Config{MaxHosts: 8})
	h := a.newHost(netip.MustParseAddr("198.51.100.1"))
	h.flows, h.peers, h.refused, h.replies, h.served = 5, 3, 1, 2, true
	h.targets = 2
	h.smtpPeers = map[addrkey.Addr]struct{}{{}: {}}
	a.keep(h)
	g := a.newHost(netip.MustParseAddr("198.51.100.2"))
	if g != h || a.reused != 1 {
		t.Fatalf("the kept host was not reused (reused %d)", a.reused)
	}
	if g.addr.String() != "198.51.100.2" || g.flows != 0 || g.peers != 0 || g.refused != 0 || g.replies != 0 || g.served ||
		g.targets != 0 || g.smtpPeers != nil || g.truncated {
		t.Fatalf("a reused host is not empty: %+v", g)
	}
	// No more kept than MaxHosts allows, with the hosts followed.
	for range 20 {
		a.keep(&host{})
	}
	if len(a.spare)+a.hosts.len() > 8 {
		t.Errorf("%d hosts kept, more than MaxHosts", len(a.spare))
	}
}
