package vscan

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/flow"
)

func fl(start int64, src string, sp uint16, dst string, dp uint16, proto, flags uint8) flow.Record {
	return flow.Record{Start: start, End: start + 1, Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst),
		SrcPort: sp, DstPort: dp, Proto: proto, TCPFlags: flags, Packets: 1, Octets: 44}
}

const (
	syn    = flow.TCPSyn
	synAck = flow.TCPSyn | flow.TCPAck
	rstAck = flow.TCPRst | flow.TCPAck
)

func run(cfg Config, recs []flow.Record) []analyze.Finding {
	var out []analyze.Finding
	d := New(cfg, func(f analyze.Finding) { out = append(out, f) })
	d.Add(recs)
	d.Flush()
	return out
}

// slowTCP is nmap -sS -T1 against n ports of dst: one probe every 15 s,
// closed ports answer RST+ACK, the ports in open answer SYN+ACK.
func slowTCP(src, dst string, n int, open map[int]bool) []flow.Record {
	var recs []flow.Record
	for i := range n {
		t := int64(i) * 15_000
		port := uint16(20 + i*7)
		recs = append(recs, fl(t, src, 40000, dst, port, 6, syn))
		if open[i] {
			recs = append(recs, fl(t+1, dst, port, src, 40000, 6, synAck))
		} else {
			recs = append(recs, fl(t+1, dst, port, src, 40000, 6, rstAck))
		}
	}
	return recs
}

func TestSlowTCPScan(t *testing.T) {
	recs := slowTCP("10.77.5.55", "10.77.8.12", 22, map[int]bool{3: true, 8: true})
	got := run(DefaultConfig(), recs)
	if len(got) != 1 {
		t.Fatalf("%d findings, want 1: %+v", len(got), got)
	}
	f := got[0]
	if f.Src.String() != "10.77.5.55" || f.Dst.String() != "10.77.8.12" || f.Kind != Kind || f.Detector != "vscan" {
		t.Fatalf("finding %+v", f)
	}
	// Failures so far: the first 12 probes hold 2 answered, so the
	// tenth failure is the twelfth probe (index 23 = its reply's flow).
	if f.Value != 10 || f.Threshold != 10 || f.Attempts != 12 || f.Index != 24 {
		t.Fatalf("value %v threshold %v attempts %d index %d", f.Value, f.Threshold, f.Attempts, f.Index)
	}
	if !strings.Contains(f.Note, "12 services of 10.77.8.12 tried over 2m45s") {
		t.Fatalf("note %q", f.Note)
	}
}

// A finding's Flow holds the settling flow's addresses, ports, protocol
// and start (the queue keeps no more of a flow): here the twelfth
// probe's refusal, and the probe itself when no reply comes.
func TestFindingFlowIsTheSettlingFlow(t *testing.T) {
	recs := slowTCP("10.77.5.55", "10.77.8.12", 22, map[int]bool{3: true, 8: true})
	got := run(DefaultConfig(), recs)
	if len(got) != 1 {
		t.Fatalf("%d findings, want 1", len(got))
	}
	want := recs[23]
	want = flow.Record{Start: want.Start, Src: want.Src, Dst: want.Dst, SrcPort: want.SrcPort, DstPort: want.DstPort, Proto: want.Proto}
	if got[0].Flow != want || got[0].Time != want.Start {
		t.Fatalf("flow %+v, time %d, want %+v", got[0].Flow, got[0].Time, want)
	}
	var probes []flow.Record
	for i := 0; i < len(recs); i += 2 {
		probes = append(probes, recs[i])
	}
	got = run(DefaultConfig(), probes)
	if len(got) != 1 {
		t.Fatalf("unanswered probes: %d findings, want 1", len(got))
	}
	want = probes[9]
	want = flow.Record{Start: want.Start, Src: want.Src, Dst: want.Dst, SrcPort: want.SrcPort, DstPort: want.DstPort, Proto: want.Proto}
	if got[0].Flow != want || got[0].Index != 10 {
		t.Fatalf("unanswered probes: flow %+v, index %d, want %+v, 10", got[0].Flow, got[0].Index, want)
	}
}

// An IPv4 address and its IPv4-mapped IPv6 form are one host (exporters
// disagree on the form): replies in one form answer contacts in the other.
func TestMappedAddressesShareAPair(t *testing.T) {
	recs := slowTCP("10.77.5.55", "10.77.8.12", 22, map[int]bool{})
	for i := 1; i < len(recs); i += 2 {
		// The replies: open ports, from and to the mapped forms.
		r := &recs[i]
		r.Src, r.Dst, r.TCPFlags = netip.AddrFrom16(r.Src.As16()), netip.AddrFrom16(r.Dst.As16()), synAck
	}
	if got := run(DefaultConfig(), recs); len(got) != 0 {
		t.Fatalf("answered in the mapped form: %d findings, want none", len(got))
	}
	var probes []flow.Record
	for i := 0; i < len(recs); i += 2 {
		probes = append(probes, recs[i])
	}
	if got := run(DefaultConfig(), probes); len(got) != 1 {
		t.Fatalf("unanswered: %d findings, want 1", len(got))
	}
}

func TestNineFailuresAreNotEnough(t *testing.T) {
	if got := run(DefaultConfig(), slowTCP("10.0.0.1", "10.0.0.2", 9, nil)); len(got) != 0 {
		t.Fatalf("findings %+v", got)
	}
	if got := run(DefaultConfig(), slowTCP("10.0.0.1", "10.0.0.2", 10, nil)); len(got) != 1 {
		t.Fatalf("10 refused services: %d findings", len(got))
	}
}

func TestUDPScanUnanswered(t *testing.T) {
	// nmap -sU: closed ports answer with ICMP port unreachable (another
	// protocol: no reply to the UDP service), open ones with UDP.
	var recs []flow.Record
	for i := range 24 {
		t := int64(i) * 500
		port := uint16(7 + i*5)
		recs = append(recs, fl(t, "10.77.4.44", 50000, "10.77.8.11", port, 17, 0))
		if i == 10 {
			recs = append(recs, fl(t+2, "10.77.8.11", port, "10.77.4.44", 50000, 17, 0))
		} else {
			r := fl(t+2, "10.77.8.11", 0, "10.77.4.44", 0x0303, 1, 0)
			recs = append(recs, r)
		}
	}
	got := run(DefaultConfig(), recs)
	if len(got) != 1 || got[0].Src.String() != "10.77.4.44" {
		t.Fatalf("findings %+v", got)
	}
}

func TestIPv6Scan(t *testing.T) {
	got := run(DefaultConfig(), slowTCP("fd77:1::88", "fd77:8::10", 30, nil))
	if len(got) != 1 || got[0].Src.String() != "fd77:1::88" || got[0].Dst.String() != "fd77:8::10" {
		t.Fatalf("findings %+v", got)
	}
}

func TestServersAndClientsAreNotScanners(t *testing.T) {
	var recs []flow.Record
	// A DNS server answers one client from port 53 to 200 client ports.
	for i := range 200 {
		t := int64(i) * 100
		recs = append(recs, fl(t, "10.0.0.9", uint16(30000+i), "10.0.0.53", 53, 17, 0))
		recs = append(recs, fl(t+1, "10.0.0.53", 53, "10.0.0.9", uint16(30000+i), 17, 0))
	}
	// A client uses 15 services of one host, all answered.
	for i := range 15 {
		t := int64(i) * 1000
		recs = append(recs, fl(t, "10.0.0.7", 50000, "10.0.0.8", uint16(8000+i), 6, synAck|flow.TCPPsh))
	}
	// A P2P client talks to one peer on UDP 6881 from many ports; the peer
	// answers each.
	for i := range 40 {
		t := int64(i) * 3000
		recs = append(recs, fl(t, "10.0.0.31", uint16(40000+i), "10.0.0.77", 6881, 17, 0))
		recs = append(recs, fl(t+3, "10.0.0.77", 6881, "10.0.0.31", uint16(40000+i), 17, 0))
	}
	// traceroute (UDP, one port a probe from 33434): 3 probes for each
	// of 30 hops to one destination, the destination refusing the last.
	for i := range 90 {
		t := int64(i) * 50
		recs = append(recs, fl(t, "10.0.0.40", uint16(50000+i), "10.0.0.99", uint16(33434+i), 17, 0))
		recs = append(recs, fl(t+1, "10.0.0.99", 0, "10.0.0.40", 0x0303, 1, 0))
	}
	if got := run(DefaultConfig(), recs); len(got) != 0 {
		t.Fatalf("findings %+v", got)
	}
}

func TestHorizonForgets(t *testing.T) {
	// 20 refused probes, one every 2 h: with a 6 h horizon the pair never
	// forgets (each contact renews it); with a 1 h horizon it never
	// gathers enough.
	var recs []flow.Record
	for i := range 20 {
		t := int64(i) * 7_200_000
		recs = append(recs, fl(t, "10.0.0.1", 40000, "10.0.0.2", uint16(100+i), 6, syn))
		recs = append(recs, fl(t+1, "10.0.0.2", uint16(100+i), "10.0.0.1", 40000, 6, rstAck))
	}
	if got := run(DefaultConfig(), recs); len(got) != 1 {
		t.Fatalf("6 h horizon: %d findings", len(got))
	}
	c := DefaultConfig()
	c.HorizonMS = 3_600_000
	if got := run(c, recs); len(got) != 0 {
		t.Fatalf("1 h horizon: %d findings", len(got))
	}
}

func TestValidate(t *testing.T) {
	if err := (Config{MinFailed: -1}).Validate(); err == nil {
		t.Fatal("negative MinFailed accepted")
	}
	if err := (Config{}).Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestMaxPairsCountsWhatIsNotFollowed(t *testing.T) {
	c := DefaultConfig()
	c.MaxPairs = 2
	d := New(c, func(analyze.Finding) {})
	for i := range 5 {
		d.Add([]flow.Record{fl(int64(i), "10.0.0.1", 40000, "10.0.1."+string(rune('1'+i)), 22, 6, syn)})
	}
	d.Flush()
	if d.Untracked() != 3 {
		t.Fatalf("untracked %d, want 3", d.Untracked())
	}
}

// A table full of background radiation (one probe a pair, answered by a
// refusal so nothing is pending) makes room for new pairs by forgetting
// those silent longest, a quarter at a time: a slow scan that comes later
// is still followed and found, and the table is swept about once per
// quarter of MaxPairs new pairs, not once per new pair.
func TestFullTableMakesRoomForAScanner(t *testing.T) {
	c := DefaultConfig()
	c.MaxPairs = 1000
	var got []analyze.Finding
	d := New(c, func(f analyze.Finding) { got = append(got, f) })
	const noise = 20000
	for i := range noise {
		src := netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)})
		dst := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8 & 3), byte(i)})
		t0 := int64(i) * 1000
		a, b := fl(t0, src.String(), 40000, dst.String(), 23, 6, syn), fl(t0+1, dst.String(), 23, src.String(), 40000, 6, rstAck)
		d.Add([]flow.Record{a, b})
	}
	base := int64(noise) * 1000
	scan := slowTCP("203.0.113.9", "10.9.9.9", 22, nil)
	for i := range scan {
		scan[i].Start += base
		scan[i].End += base
		// the background goes on beside the scan
		src := netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})
		bg := fl(scan[i].Start, src.String(), 40000, "10.2.0.1", 23, 6, syn)
		d.Add([]flow.Record{scan[i], bg})
	}
	d.Flush()
	if len(got) != 1 || got[0].Src.String() != "203.0.113.9" {
		t.Fatalf("findings %+v, want the slow scan", got)
	}
	if d.presses == 0 || d.presses > 2*noise/(c.MaxPairs/4) {
		t.Errorf("%d sweeps of the full table for %d new pairs", d.presses, noise)
	}
	if d.shortest == 0 || d.shortest >= c.HorizonMS {
		t.Errorf("shortest horizon %d ms, want one cut short", d.shortest)
	}
}

// A burst of new pairs within one reply window, every contact pending,
// beside one old pair: a sweep frees that one and no more, and the table is
// not swept again until the stream moves on by a reply window (before, the
// next new pair swept it again).
func TestFullTableOfPendingIsNotSweptPerPair(t *testing.T) {
	c := DefaultConfig()
	c.MaxPairs = 100
	d := New(c, func(analyze.Finding) {})
	d.Add([]flow.Record{fl(0, "192.0.2.1", 40000, "10.1.0.1", 23, 6, syn), fl(1, "10.1.0.1", 23, "192.0.2.1", 40000, 6, rstAck)})
	for i := range 5000 {
		src := netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)})
		d.Add([]flow.Record{fl(40_000+int64(i), src.String(), 40000, "10.1.0.1", 23, 6, syn)})
	}
	d.Flush()
	if d.presses != 1 || d.Untracked() != 4900 {
		t.Fatalf("%d sweeps, %d untracked", d.presses, d.Untracked())
	}
}
