package heuristics

import (
	"net/netip"
	"testing"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/flow"
)

func r(t int64, src, dst string, proto uint8, sp, dp uint16, flags uint8) flow.Record {
	return flow.Record{Start: t, End: t, Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst),
		Proto: proto, SrcPort: sp, DstPort: dp, TCPFlags: flags, Packets: 1}
}

func v4(i int) string { return netip.AddrFrom4([4]byte{11, 0, byte(i >> 8), byte(i)}).String() }

func site() Config {
	c := DefaultConfig()
	c.Local = []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16"), netip.MustParsePrefix("fd00:1::/64")}
	c.Plan = []Range{{Name: "dhcp", Kind: "dhcp", First: netip.MustParseAddr("10.20.2.100"), Last: netip.MustParseAddr("10.20.2.250")},
		{Name: "v6", Kind: "static", First: netip.MustParseAddr("fd00:1::1"), Last: netip.MustParseAddr("fd00:1::ff")}}
	c.Whitelist = []netip.Prefix{netip.MustParsePrefix("10.20.2.53/32")}
	c.Roles = []Role{{Name: "proxy", Hosts: []netip.Addr{netip.MustParseAddr("10.20.2.108")},
		Connects: []PortRule{{6, 80, 80}, {6, 443, 443}}, Serves: []PortRule{{6, 3128, 3128}}}}
	return c
}

func run(c Config, b flow.Batch) map[analyze.Kind][]analyze.Finding {
	got := map[analyze.Kind][]analyze.Finding{}
	d := New(c, func(f analyze.Finding) { got[f.Kind] = append(got[f.Kind], f) })
	d.Add(b)
	return got
}

func TestFanOut(t *testing.T) {
	var b flow.Batch
	// 10.20.2.101 sends to 60 hosts and hears from 41 others: 101 peers.
	for i := 0; i < 60; i++ {
		b = append(b, r(int64(i), "10.20.2.101", v4(i), 6, 40000, 443, 0x1b))
	}
	for i := 60; i < 101; i++ {
		b = append(b, r(int64(i), v4(i), "10.20.2.101", 6, 40000, 22, 0x1b))
	}
	// The white-listed resolver talks to 200 hosts: ignored.
	for i := 0; i < 200; i++ {
		b = append(b, r(int64(i), v4(i), "10.20.2.53", 17, 40000, 53, 0))
	}
	got := run(site(), b)
	if len(got[analyze.FanOut]) != 1 || got[analyze.FanOut][0].Src.String() != "10.20.2.101" || got[analyze.FanOut][0].Value != 101 {
		t.Fatalf("fan-out %+v", got[analyze.FanOut])
	}
	// 100 peers is not more than 100; a new window starts again.
	b = b[:0]
	for i := 0; i < 100; i++ {
		b = append(b, r(int64(i), "10.20.2.101", v4(i), 6, 40000, 443, 0x1b))
	}
	b = append(b, r(900000, "10.20.2.101", v4(100), 6, 40000, 443, 0x1b))
	if got := run(site(), b); len(got[analyze.FanOut]) != 0 {
		t.Fatalf("fan-out at 100 or across windows: %+v", got[analyze.FanOut])
	}
}

func TestBogon(t *testing.T) {
	b := flow.Batch{
		// Answers to a TEST-NET scanner are not reported.
		r(0, "192.0.2.77", "10.20.2.101", 6, 40000, 8080, flow.TCPSyn),
		r(1, "10.20.2.101", "192.0.2.77", 6, 8080, 40000, flow.TCPRst|flow.TCPAck),
		r(2, "10.20.2.102", "192.0.2.78", 1, 0, 3<<8|3, 0),
		// Sending to reserved and link-local space is, once per host.
		r(3, "10.20.2.103", "240.1.2.3", 17, 40000, 5353, 0),
		r(4, "10.20.2.103", "169.254.9.9", 17, 40000, 53, 0),
		r(5, "fd00:1::5", "2001:db8::1", 6, 40000, 443, flow.TCPSyn),
	}
	got := run(site(), b)[analyze.Bogon]
	if len(got) != 2 || got[0].Src.String() != "10.20.2.103" || got[0].Note != "network 240.0.0.0/4" || got[1].Src.String() != "fd00:1::5" {
		t.Fatalf("bogon %+v", got)
	}
	// Local networks are taken out of the special list.
	c := site()
	c.Local = append(c.Local, netip.MustParsePrefix("192.0.2.0/24"))
	if got := run(c, flow.Batch{r(0, "10.20.2.9", "192.0.2.5", 6, 40000, 80, flow.TCPSyn)})[analyze.Bogon]; len(got) != 0 {
		t.Fatalf("local special network reported %+v", got)
	}
}

func TestPlanSynRole(t *testing.T) {
	b := flow.Batch{
		r(0, "10.20.2.99", "11.0.0.1", 6, 40000, 443, 0x1b),  // outside plan
		r(1, "10.20.2.100", "11.0.0.1", 6, 40000, 443, 0x1b), // inside
		r(2, "fd00:1::1:0", "fd00:1::1", 17, 40000, 53, 0),   // IPv6 outside
		r(3, "11.0.0.9", "10.20.9.9", 6, 40000, 22, flow.TCPSyn),
		// The proxy: web out and answers from 3128 are fine, SMTP is not.
		r(4, "10.20.2.108", "11.0.0.1", 6, 40000, 443, 0x1b),
		r(5, "10.20.2.108", "10.20.2.100", 6, 3128, 50000, 0x1b),
		r(6, "10.20.2.108", "11.0.0.2", 6, 40001, 25, 0x1b),
		r(7, "10.20.2.108", "11.0.0.3", 6, 40002, 25, 0x1b),
	}
	for i := 0; i < 101; i++ {
		fl := uint8(flow.TCPSyn)
		if i%2 == 1 {
			fl |= flow.TCPRst
		}
		b = append(b, r(int64(10+i), "11.0.0.9", v4(i), 6, 40000, 445, fl))
		// SYN with ACK does not count.
		b = append(b, r(int64(10+i), "11.0.0.10", v4(i), 6, 40000, 445, flow.TCPSyn|flow.TCPAck))
	}
	got := run(site(), b)
	if p := got[analyze.OutsidePlan]; len(p) != 2 || p[0].Src.String() != "10.20.2.99" || p[1].Src.String() != "fd00:1::1:0" {
		t.Fatalf("plan %+v", p)
	}
	if s := got[analyze.SynOnly]; len(s) != 1 || s[0].Src.String() != "11.0.0.9" || s[0].Value != 101 {
		t.Fatalf("syn-only %+v", s)
	}
	if p := got[analyze.PolicyPort]; len(p) != 1 || p[0].Dst.String() != "11.0.0.2" || p[0].Ports[0] != 25 {
		t.Fatalf("policy-port %+v", p)
	}
	for _, f := range got[analyze.PolicyPort] {
		if f.Detector != "heuristics" || f.Index != 7 {
			t.Fatalf("fields %+v", f)
		}
	}
}

// A rule reports a host once per run even when the host crosses the
// threshold again in a later window, and the other hosts of that window are
// still counted from zero.
func TestOncePerRunAcrossWindows(t *testing.T) {
	var b flow.Batch
	for w := int64(0); w < 2; w++ {
		t0 := w * 900000
		for i := 0; i < 150; i++ {
			b = append(b, r(t0+int64(i), "10.20.2.101", v4(i), 6, 40000, 443, flow.TCPSyn))
		}
	}
	for i := 0; i < 101; i++ {
		b = append(b, r(900000+200+int64(i), "10.20.2.102", v4(i), 6, 40000, 443, 0x1b))
	}
	got := run(site(), b)
	var fan []string
	for _, f := range got[analyze.FanOut] {
		fan = append(fan, f.Src.String())
	}
	if len(fan) != 2 || fan[0] != "10.20.2.101" || fan[1] != "10.20.2.102" {
		t.Fatalf("fan-out findings %v, want 10.20.2.101 once and 10.20.2.102", fan)
	}
	if s := got[analyze.SynOnly]; len(s) != 1 || s[0].Src.String() != "10.20.2.101" || s[0].Value != 101 {
		t.Fatalf("SYN-only findings %+v, want one for 10.20.2.101 at 101", s)
	}
}

// White-listed networks, and white-listed hosts written or seen in their
// IPv4-mapped IPv6 form, are left out of the fan-out count.
func TestWhitelistForms(t *testing.T) {
	c := site()
	c.Whitelist = append(c.Whitelist, netip.MustParsePrefix("10.20.3.0/24"), netip.MustParsePrefix("::ffff:10.20.4.1/128"))
	var b flow.Batch
	for i := 0; i < 150; i++ {
		b = append(b, r(int64(i), "10.20.3.7", v4(i), 17, 53, 40000, 0))
		b = append(b, r(int64(i), "::ffff:10.20.2.53", "::ffff:"+v4(i), 17, 53, 40000, 0))
		b = append(b, r(int64(i), "10.20.4.1", v4(i), 17, 123, 40000, 0))
	}
	if got := run(c, b); len(got[analyze.FanOut]) != 0 {
		t.Fatalf("white-listed hosts reported: %+v", got[analyze.FanOut])
	}
	c.Whitelist = nil
	if got := run(c, b); len(got[analyze.FanOut]) != 3 {
		t.Fatalf("without the white-list: %d fan-out findings, want 3", len(got[analyze.FanOut]))
	}
}

// A window's hosts take the slots, and the evidence lists, of the last
// window's: a host that starts in a slot that held another's SYN targets
// and fan-out sample must show only its own.
func TestEvidenceAcrossWindows(t *testing.T) {
	var b flow.Batch
	// Window 0: 11.0.0.9 probes 60 hosts with SYNs and talks to 95 peers
	// (below both thresholds) and fills the first slot's lists.
	for i := 0; i < 95; i++ {
		b = append(b, r(int64(i), "11.0.0.9", v4(1000+i), 6, 40000, 445, flow.TCPSyn))
	}
	// Window 1: 11.0.0.10 comes first and crosses both.
	for i := 0; i < 101; i++ {
		b = append(b, r(900000+int64(i), "11.0.0.10", v4(i), 6, 40000, 445, flow.TCPSyn))
	}
	got := run(site(), b)
	for _, k := range []analyze.Kind{analyze.SynOnly, analyze.FanOut} {
		fs := got[k]
		if len(fs) != 1 || fs[0].Src.String() != "11.0.0.10" || len(fs[0].Targets) == 0 {
			t.Fatalf("%v findings %+v, want one for 11.0.0.10 with targets", k, fs)
		}
		for _, a := range fs[0].Targets {
			if a4 := a.As4(); a4[2] != 0 || a4[3] > 100 {
				t.Errorf("%v evidence names %s, a peer of the last window's host", k, a)
			}
		}
	}
}
