package nfcapd

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/internal/ipfix"
	"github.com/flowsift/flowsift/internal/nfv5"
)

// IPFIX from our own sender to a real nfcapd: IPv4 and IPv6 flows with
// millisecond times. flowsift reads back what was sent (times to the
// millisecond, addresses, counters, ports, AS numbers, interfaces, masks,
// next hop, the exporter) and what nfdump -o raw prints.
func TestIPFIXCapture(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 19))
	base := int64(1780000000000)
	var sent []flow.Record
	for i := range 240 {
		start := base + int64(i)*137 + rng.Int64N(1000)
		r := flow.Record{Start: start, End: start + rng.Int64N(20000),
			Packets: uint64(1 + rng.IntN(1<<20)), Input: uint32(1 + rng.IntN(100000)), Output: uint32(1 + rng.IntN(9)),
			SrcAS: uint32(4200000000 + rng.IntN(1000)), DstAS: uint32(64512 + rng.IntN(10)),
			SrcPort: uint16(1024 + rng.IntN(60000)), DstPort: []uint16{53, 443, 8443}[rng.IntN(3)], ToS: byte(rng.IntN(64) * 4)}
		r.Octets = r.Packets * uint64(64+rng.IntN(1400))
		if rng.IntN(2) == 0 {
			r.Proto, r.TCPFlags = 6, byte(1+rng.IntN(63))
		} else {
			r.Proto = 17
		}
		if (i/20)%2 == 1 { // runs of IPv6 flows
			r.Src = netip.MustParseAddr(fmt.Sprintf("2001:db8:%x::%x", rng.IntN(16), 1+rng.IntN(500)))
			r.Dst = netip.MustParseAddr(fmt.Sprintf("2001:db8:ffff::%x", 1+rng.IntN(50)))
			r.Nexthop = netip.MustParseAddr("fe80::1")
			r.SrcMask, r.DstMask = byte(32+rng.IntN(33)), byte(48+rng.IntN(17))
		} else {
			r.Src = netip.AddrFrom4([4]byte{10, byte(rng.IntN(8)), byte(rng.IntN(256)), byte(1 + rng.IntN(250))})
			r.Dst = netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + rng.IntN(250))})
			r.Nexthop = netip.AddrFrom4([4]byte{10, 255, 0, 9})
			r.SrcMask, r.DstMask = byte(8+rng.IntN(17)), byte(16+rng.IntN(9))
		}
		sent = append(sent, r)
	}
	msgs, err := ipfix.Encode(sent, 42)
	if err != nil {
		t.Fatal(err)
	}
	file := nfv5.CapturePackets(t, msgs, len(sent))
	want := rawRecords(t, file)
	got, skips, err := decodeFile(t, file, true)
	if err != nil || len(skips) != 0 || len(got) != len(sent) || len(want) != len(sent) {
		t.Fatalf("%d flows (nfdump %d, sent %d): %v %v", len(got), len(want), len(sent), skips, err)
	}
	for i := range got {
		if d := same(&got[i], &want[i]); d != "" {
			t.Fatalf("flow %d: %s", i, d)
		}
	}
	// nfcapd keeps the order of arrival: flow i is sent flow i.
	v6 := 0
	for i := range got {
		g, s := &got[i], &sent[i]
		if g.Src.Is6() {
			v6++
		}
		type kv struct {
			k    string
			x, y any
		}
		for _, c := range []kv{
			{"start", g.Start, s.Start}, {"end", g.End, s.End}, {"src", g.Src, s.Src}, {"dst", g.Dst, s.Dst},
			{"sport", g.SrcPort, s.SrcPort}, {"dport", g.DstPort, s.DstPort}, {"proto", g.Proto, s.Proto},
			{"packets", g.Packets, s.Packets}, {"bytes", g.Octets, s.Octets}, {"tos", g.ToS, s.ToS},
			{"input", g.Input, s.Input}, {"output", g.Output, s.Output}, {"srcas", g.SrcAS, s.SrcAS}, {"dstas", g.DstAS, s.DstAS},
			{"nexthop", g.Nexthop, s.Nexthop}, {"smask", g.SrcMask, s.SrcMask}, {"dmask", g.DstMask, s.DstMask},
			{"exporter", g.Exporter, netip.MustParseAddr("127.0.0.1")},
		} {
			if c.x != c.y {
				t.Fatalf("flow %d %s: read %v, sent %v", i, c.k, c.x, c.y)
			}
		}
		if s.Proto == 6 && g.TCPFlags != s.TCPFlags {
			t.Fatalf("flow %d flags: read %#x, sent %#x", i, g.TCPFlags, s.TCPFlags)
		}
	}
	if v6 != 120 {
		t.Fatalf("%d IPv6 flows", v6)
	}
}
