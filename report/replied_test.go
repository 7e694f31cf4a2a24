package report

import (
	"net/netip"
	"testing"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/analyze/episode"
	"github.com/flowsift/flowsift/flow"
)

// A UDP or ICMP sweep from outside whose targets answered found
// something: it ranks as an answered scan. The same sweep unanswered is
// background radiation. The flows go through the accountant as the pass
// feeds them, so the test covers the counting and the class together.
func TestUDPAndEchoSweepsAnswered(t *testing.T) {
	local := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	const t0 = int64(1_780_000_000_000)
	type probe struct {
		proto      uint8
		port       uint16 // as stored: ICMP type<<8|code
		replyProto uint8
		replySport uint16
		replyDport uint16
	}
	snmp := probe{17, 161, 17, 161, 40000}
	ping := probe{1, 8 << 8, 1, 0, 0}
	ping6 := probe{58, 128 << 8, 58, 0, 129 << 8}
	cases := []struct {
		name    string
		p       probe
		v6      bool
		answers int // of 40 targets
		class   string
		replied int
	}{
		{"udp answered", snmp, false, 3, ClassAnswered, 3},
		{"udp unanswered", snmp, false, 0, ClassBackground, 0},
		{"icmp echo answered", ping, false, 5, ClassAnswered, 5},
		{"icmp echo unanswered", ping, false, 0, ClassBackground, 0},
		{"icmpv6 echo answered", ping6, true, 2, ClassAnswered, 2},
		// Most targets answering is a client, not a scan.
		{"udp mostly answered", snmp, false, 30, ClassOther, 30},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			local := local
			src := netip.MustParseAddr("203.0.113.9")
			target := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 2, 0, byte(i + 1)}) }
			if c.v6 {
				src = netip.MustParseAddr("2001:db8:ff::9")
				target = func(i int) netip.Addr {
					return netip.AddrFrom16([16]byte{0xfd, 0, 2, 15: byte(i + 1)})
				}
				local = []netip.Prefix{netip.MustParsePrefix("fd00::/8")}
			}
			acc := episode.New(episode.Config{Local: local})
			idx := uint64(0)
			add := func(r flow.Record) {
				idx++
				acc.AddRecord(&r)
			}
			for i := range 40 {
				at := t0 + int64(i)*500
				dst := target(i)
				add(flow.Record{Src: src, Dst: dst, Proto: c.p.proto, SrcPort: 40000, DstPort: c.p.port, Start: at, End: at, Packets: 1, Octets: 60})
				if i < c.answers {
					add(flow.Record{Src: dst, Dst: src, Proto: c.p.replyProto, SrcPort: c.p.replySport, DstPort: c.p.replyDport, Start: at + 3, End: at + 3, Packets: 1, Octets: 80})
				}
			}
			acc.AddFinding(analyze.Finding{Detector: "dscan", Kind: analyze.HostScan, Src: src, Index: idx - 1, Time: t0, Rule: "destinations >= D", Threshold: 30, Value: 40})
			m := Build(Input{Local: local, Result: acc.Result()})
			var got *Scanner
			for i := range m.Scanners {
				if m.Scanners[i].Src == src.String() {
					got = &m.Scanners[i]
				}
			}
			if got == nil {
				t.Fatalf("no row for %s: %+v", src, m.Scanners)
			}
			if got.Class != c.class || got.Replied != c.replied {
				t.Errorf("class %q, replied_targets %d; want %q, %d", got.Class, got.Replied, c.class, c.replied)
			}
			if bg := m.Background.Sources; (c.class == ClassBackground) != (bg == 1) {
				t.Errorf("background section counts %d sources for a %s episode", bg, got.Class)
			}
		})
	}
}

// A vertical UDP scan has one target: its answers are counted per port
// probed, so two open ports of 24 make an answered scan, and a host that
// answered on every port it was asked on is not a scan's shape.
func TestVerticalUDPScanAnswered(t *testing.T) {
	local := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	const t0 = int64(1_780_000_000_000)
	src, dst := netip.MustParseAddr("203.0.113.4"), netip.MustParseAddr("10.3.0.11")
	for _, c := range []struct {
		open   int
		class  string
		probes int
	}{{2, ClassAnswered, 2}, {24, ClassOther, 24}, {0, ClassBackground, 0}} {
		acc := episode.New(episode.Config{Local: local})
		n := uint64(0)
		for i := range 24 {
			at := t0 + int64(i)*200
			port := uint16(100 + i)
			acc.AddRecord(&flow.Record{Src: src, Dst: dst, Proto: 17, SrcPort: 50000, DstPort: port, Start: at, End: at, Packets: 1, Octets: 40})
			n++
			if i < c.open {
				acc.AddRecord(&flow.Record{Src: dst, Dst: src, Proto: 17, SrcPort: port, DstPort: 50000, Start: at + 1, End: at + 1, Packets: 1, Octets: 60})
				n++
			}
		}
		acc.AddFinding(analyze.Finding{Detector: "heuristics", Kind: analyze.Kind("vertical-scan"), Src: src, Index: n, Time: t0, Rule: "ports", Threshold: 20, Value: 24})
		m := Build(Input{Local: local, Result: acc.Result()})
		if len(m.Scanners) != 1 {
			t.Fatalf("%d open: %d rows, want 1: %+v", c.open, len(m.Scanners), m.Scanners)
		}
		s := m.Scanners[0]
		if s.Class != c.class || s.Replied != min(c.open, 1) || s.RepliedProbes != c.probes {
			t.Errorf("%d open: class %q, replied %d/%d probes; want %q, %d/%d", c.open, s.Class, s.Replied, s.RepliedProbes, c.class, min(c.open, 1), c.probes)
		}
	}
}

// A SYN scan's own flows never carry ACK, answered or not: an open port
// answers with a SYN-ACK flow of its own. A sweep from outside that got
// SYN-ACKs from a few targets ranks as answered, and its reason says how
// many hosts answered; RST-ACKs (closed ports) are no find, and a client
// whose own flows carry ACK does not have its servers' SYN-ACKs counted.
func TestSYNScanAnswered(t *testing.T) {
	local := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	const t0 = int64(1_780_000_000_000)
	src := netip.MustParseAddr("203.0.113.22")
	for _, c := range []struct {
		name              string
		probeFlags, reply uint8
		answers           int // of the 40 targets, from the 11th
		class             string
		replied           int
	}{
		{"syn-ack from 3", flow.TCPSyn | flow.TCPRst, flow.TCPSyn | flow.TCPAck, 3, ClassAnswered, 3},
		{"rst-ack from 30", flow.TCPSyn, flow.TCPRst | flow.TCPAck, 30, ClassBackground, 0},
		{"client with ack", flow.TCPSyn | flow.TCPAck | flow.TCPFin, flow.TCPSyn | flow.TCPAck, 3, ClassOther, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			acc := episode.New(episode.Config{Local: local})
			idx := uint64(0)
			for i := range 40 {
				at := t0 + int64(i)*500
				dst := netip.AddrFrom4([4]byte{10, 2, 0, byte(i + 1)})
				if i >= 10 && i < 10+c.answers {
					// The answer ends first: the probe's flow ends with
					// the scanner's RST after it.
					acc.AddRecord(&flow.Record{Src: dst, Dst: src, Proto: 6, SrcPort: 22, DstPort: 40000, TCPFlags: c.reply, Start: at + 1, End: at + 1, Packets: 1, Octets: 44})
					idx++
				}
				acc.AddRecord(&flow.Record{Src: src, Dst: dst, Proto: 6, SrcPort: 40000, DstPort: 22, TCPFlags: c.probeFlags, Start: at, End: at + 2, Packets: 2, Octets: 84})
				idx++
			}
			acc.AddFinding(analyze.Finding{Detector: "dscan", Kind: analyze.HostScan, Src: src, Index: idx, Time: t0, Rule: "destinations >= D", Threshold: 30, Value: 40})
			m := Build(Input{Local: local, Result: acc.Result()})
			if len(m.Scanners) != 1 {
				t.Fatalf("%d rows, want 1: %+v", len(m.Scanners), m.Scanners)
			}
			got := m.Scanners[0]
			if got.Class != c.class || got.Replied != c.replied {
				t.Errorf("class %q, replied_targets %d; want %q, %d", got.Class, got.Replied, c.class, c.replied)
			}
		})
	}
}
