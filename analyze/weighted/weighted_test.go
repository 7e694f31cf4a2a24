package weighted

import (
	"net/netip"
	"testing"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/flow"
)

func syn(start int64, src, dst string, port uint16, flags uint8) flow.Record {
	return flow.Record{Start: start, End: start, Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst),
		Proto: 6, TCPFlags: flags, SrcPort: 50000, DstPort: port, Packets: 1}
}

func feed(cfg Config, b flow.Batch) ([]analyze.Finding, *Detector) {
	var got []analyze.Finding
	d := New(cfg, func(f analyze.Finding) { got = append(got, f) })
	d.Add(b)
	return got, d
}

func TestSevenPrivilegedPorts(t *testing.T) {
	var b flow.Batch
	// Six privileged ports (weight 18), a repeat of port 1 (not counted),
	// then the seventh: weight 21, 2.9 s apart at most. Flags vary in FIN.
	for i, p := range []uint16{1, 2, 3, 4, 5, 6, 1, 7} {
		fl := uint8(flow.TCPSyn)
		if i == 3 {
			fl |= flow.TCPFin
		}
		b = append(b, syn(int64(i)*2900, "192.0.2.7", "10.0.0.1", p, fl))
	}
	got, _ := feed(DefaultConfig(), b)
	if len(got) != 1 {
		t.Fatalf("findings %+v", got)
	}
	f := got[0]
	if f.Value != 21 || f.Attempts != 7 || len(f.Ports) != 7 || f.Index != 8 || f.Kind != analyze.FastScan || f.Detector != "weighted-ports" {
		t.Fatalf("finding %+v", f)
	}
	if Flags(0xff&flow.TCPSyn, flow.TCPSyn|flow.TCPFin) != "?Srpauec" || f.Note != "ports 7, flags ?Srpauec" {
		t.Fatalf("flags %q note %q", Flags(flow.TCPSyn, flow.TCPSyn|flow.TCPFin), f.Note)
	}
}

func TestGapResets(t *testing.T) {
	var b flow.Batch
	// 20 unprivileged ports 1 s apart, a 3.5 s pause, then 20 more: never 21.
	for i := 0; i < 40; i++ {
		ts := int64(i) * 1000
		if i >= 20 {
			ts += 2500
		}
		b = append(b, syn(ts, "2001:db8::7", "2001:db8::1", uint16(2000+i), flow.TCPSyn))
	}
	got, _ := feed(DefaultConfig(), b)
	if len(got) != 0 {
		t.Fatalf("gap ignored: %+v", got)
	}
	// Across destinations the ports of one source add up (scanlogd keeps
	// one entry per source): 21 ports on 21 hosts fire, IPv6 too.
	b = b[:0]
	for i := 0; i < 21; i++ {
		b = append(b, syn(int64(i)*100, "2001:db8::7", netip.AddrFrom16([16]byte{0x20, 1, 0xd, 0xb8, 15: byte(i)}).String(), uint16(2000+i), flow.TCPSyn))
	}
	got, _ = feed(DefaultConfig(), b)
	if len(got) != 1 || len(got[0].Targets) != 21 {
		t.Fatalf("findings %+v", got)
	}
}

func TestRepliesAndSessionsIgnored(t *testing.T) {
	var b flow.Batch
	for i := 0; i < 50; i++ {
		// A web server answering: ACK set, ephemeral destination ports.
		b = append(b, syn(int64(i)*10, "10.0.0.80", "192.0.2.1", uint16(30000+i), flow.TCPSyn|flow.TCPAck))
		// A resolver answering from 53.
		r := syn(int64(i)*10, "10.0.0.53", "192.0.2.1", uint16(30000+i), 0)
		r.Proto, r.SrcPort = 17, 53
		b = append(b, r)
	}
	got, _ := feed(DefaultConfig(), b)
	if len(got) != 0 {
		t.Fatalf("findings %+v", got)
	}
}

func TestStateBounded(t *testing.T) {
	var b flow.Batch
	for i := 0; i < 10000; i++ {
		b = append(b, syn(int64(i)*10, netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).String(), "10.0.0.1", 80, flow.TCPSyn))
	}
	_, d := feed(DefaultConfig(), b)
	// 3 s of sources at 100 per second, plus one sweep interval.
	if d.Tracked() > 700 {
		t.Fatalf("tracking %d sources", d.Tracked())
	}
}
