package episode

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/flow"
)

const t0 = int64(1_700_000_000_000) // 2023-11-14 22:13:20Z

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func nth(base string, i int) netip.Addr {
	b := ip(base).As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	return flow.AddrFromU32(v + uint32(i))
}

func rec(src, dst netip.Addr, proto uint8, sport, dport uint16, flags uint8, start int64) flow.Record {
	return flow.Record{Src: src, Dst: dst, Proto: proto, SrcPort: sport, DstPort: dport,
		TCPFlags: flags, Start: start, End: start + 10, Packets: 1, Octets: 40}
}

// feed adds flows one by one and hands each finding right after the flow at
// its Index (like a detector called before the accountant on each flow).
func feed(a *Accountant, flows []flow.Record, fs []analyze.Finding) {
	for i := range flows {
		a.Add(flow.Batch{flows[i]})
		for _, f := range fs {
			if f.Index == uint64(i+1) {
				a.AddFinding(f)
			}
		}
	}
}

func TestFlagsSummary(t *testing.T) {
	cases := []struct {
		name  string
		flags []uint8
		want  string
	}{
		{"none", nil, ""},
		{"syn only", []uint8{flow.TCPSyn}, "fSrpauxy"},
		{"syn and syn+rst", []uint8{flow.TCPSyn, flow.TCPSyn | flow.TCPRst}, "fS?pauxy"},
		{"full connections", []uint8{0x1b, 0x1b}, "FSrPAuxy"},
		{"varied ack", []uint8{flow.TCPSyn, flow.TCPSyn | flow.TCPAck}, "fSrp?uxy"},
		{"all bits", []uint8{0xff}, "FSRPAUXY"},
		{"xmas and null", []uint8{0x29, 0}, "?sr?a?xy"},
	}
	for _, c := range cases {
		and, or := uint8(0xff), uint8(0)
		for _, f := range c.flags {
			and &= f
			or |= f
		}
		if got := FlagsSummary(and, or, uint64(len(c.flags))); got != c.want {
			t.Errorf("%s: FlagsSummary = %q, want %q", c.name, got, c.want)
		}
	}
}

func hostScan(src netip.Addr, idx uint64, tm int64) analyze.Finding {
	return analyze.Finding{Detector: "dscan", Kind: analyze.HostScan, Src: src, Index: idx, Time: tm,
		Rule: "destinations >= D", Threshold: 200, Value: 200}
}

func TestEpisodesSplitByGap(t *testing.T) {
	s := ip("203.0.113.45")
	var flows []flow.Record
	// Run 1: 10 flows a minute apart; run 2: 3 h later, 5 flows; run 3: 5 h
	// later, no finding.
	for i := 0; i < 10; i++ {
		flows = append(flows, rec(s, nth("10.0.0.1", i), 6, 40000, 22, flow.TCPSyn, t0+int64(i)*60_000))
	}
	for i := 0; i < 5; i++ {
		flows = append(flows, rec(s, nth("10.0.1.1", i), 6, 40000, 23, flow.TCPSyn|flow.TCPRst, t0+3*3_600_000+int64(i)*1000))
	}
	flows = append(flows, rec(s, ip("10.9.9.9"), 6, 40000, 80, 0x1b, t0+8*3_600_000))
	fs := []analyze.Finding{hostScan(s, 10, flows[9].Start), hostScan(s, 15, flows[14].Start)}
	a := New(Config{})
	feed(a, flows, fs)
	res := a.Result()
	if len(res.Episodes) != 2 {
		t.Fatalf("episodes = %d, want 2: %+v", len(res.Episodes), res.Episodes)
	}
	e1, e2 := res.Episodes[0], res.Episodes[1]
	if e1.Flows != 10 || e1.Targets != 10 || e1.First != t0 || e1.Last != t0+9*60_000+10 {
		t.Errorf("episode 1 = flows %d targets %d first %d last %d", e1.Flows, e1.Targets, e1.First, e1.Last)
	}
	if e1.Flags != "fSrpauxy" || e2.Flags != "fSRpauxy" {
		t.Errorf("flags %q %q", e1.Flags, e2.Flags)
	}
	if e2.Flows != 5 || e2.Ports != 1 || e2.TopPorts[0] != (PortCount{Port: 23, Proto: 6, Flows: 5}) {
		t.Errorf("episode 2 = %+v", e2)
	}
	if e1.Kind != "host scan" || e1.Findings != 1 || len(e1.Rules) != 1 || e1.Rules[0].Threshold != 200 {
		t.Errorf("episode 1 kind/rules = %q %+v", e1.Kind, e1.Rules)
	}

	// With a gap longer than the silence, one episode holds both runs and
	// the finding-less last flow (5 h later) stays out.
	a = New(Config{Gap: 4 * 3_600_000})
	feed(a, flows, fs)
	res = a.Result()
	if len(res.Episodes) != 1 || res.Episodes[0].Flows != 15 || res.Episodes[0].Findings != 2 {
		t.Fatalf("gap 4h: %+v", res.Episodes)
	}
}

func TestBothKindsLocalRemoteSample(t *testing.T) {
	s := ip("198.51.100.7")
	var flows []flow.Record
	for i := 0; i < 6; i++ {
		flows = append(flows, rec(s, nth("10.1.0.1", i), 6, 5000, 80, flow.TCPSyn, t0+int64(i)))
	}
	for i := 0; i < 4; i++ {
		flows = append(flows, rec(s, nth("192.0.2.1", i), 6, 5000, 80, flow.TCPSyn, t0+10+int64(i)))
	}
	for p := 0; p < 8; p++ {
		flows = append(flows, rec(s, ip("10.1.0.1"), 6, 5000, uint16(100+p), flow.TCPSyn, t0+20+int64(p)))
	}
	fs := []analyze.Finding{
		hostScan(s, 10, t0+13),
		{Detector: "dscan", Kind: analyze.PortScan, Src: s, Dst: ip("10.1.0.1"), Index: 18, Time: t0 + 27,
			Rule: "ports >= S", Threshold: 8, Value: 8, Ports: []uint16{80, 100, 101, 102, 103, 104, 105, 106, 107}},
		{Detector: "trw", Kind: analyze.TRWScan, Src: s, Index: 12, Time: t0 + 12, Rule: "LR >= eta1", Threshold: 99, Value: 120, Score: 120, Attempts: 5},
	}
	a := New(Config{Local: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, SampleTargets: 3})
	feed(a, flows, fs)
	res := a.Result()
	if len(res.Episodes) != 1 {
		t.Fatalf("episodes = %+v", res.Episodes)
	}
	e := res.Episodes[0]
	if e.Kind != "both + trw-scan" {
		t.Errorf("kind = %q", e.Kind)
	}
	if !reflect.DeepEqual(e.Detectors, []string{"dscan", "trw"}) || len(e.Rules) != 3 {
		t.Errorf("detectors %v rules %+v", e.Detectors, e.Rules)
	}
	if e.Targets != 10 || e.LocalTargets != 6 || e.Ports != 9 {
		t.Errorf("targets %d local %d ports %d", e.Targets, e.LocalTargets, e.Ports)
	}
	want := []netip.Addr{ip("10.1.0.1"), ip("10.1.0.2"), ip("10.1.0.3")}
	if !reflect.DeepEqual(e.Sample, want) {
		t.Errorf("sample = %v", e.Sample)
	}
	if e.TopPorts[0] != (PortCount{Port: 80, Proto: 6, Flows: 10}) || len(e.TopPorts) != 5 || e.TopPorts[1].Port != 100 {
		t.Errorf("top ports = %+v", e.TopPorts)
	}
	// Targets view: 10.1.0.1 was hit by 9 flows of the one scanner.
	if res.TargetHosts[0].Addr != ip("10.1.0.1") || res.TargetHosts[0].Flows != 9 || len(res.TargetHosts[0].Scanners) != 1 {
		t.Errorf("target hosts[0] = %+v", res.TargetHosts[0])
	}
	if res.TargetPorts[0].Port != 80 || res.TargetPorts[0].Flows != 10 {
		t.Errorf("target ports[0] = %+v", res.TargetPorts[0])
	}
}

func TestSuppressDNSServerSuggested(t *testing.T) {
	dns := ip("10.20.1.53")
	var flows []flow.Record
	for i := 0; i < 300; i++ {
		flows = append(flows, rec(dns, nth("10.30.0.1", i), 17, 53, uint16(20000+i), 0, t0+int64(i)*100))
	}
	fs := []analyze.Finding{hostScan(dns, 201, flows[200].Start)}
	a := New(Config{})
	feed(a, flows, fs)
	res := a.Result()
	if len(res.Suppress) != 1 {
		t.Fatalf("suppress = %+v", res.Suppress)
	}
	sg := res.Suppress[0]
	if sg.Line != "10.20.1.53 17 53 -" || sg.File != "src" || sg.Peers != 300 {
		t.Errorf("suggestion = %+v", sg)
	}
	for _, l := range strings.Split(sg.Comment, "\n") {
		if !strings.HasPrefix(l, "# ") {
			t.Errorf("comment line %q does not start with '# '", l)
		}
	}
	if !strings.Contains(sg.Comment, "udp/53 (300 flows)") || !strings.Contains(sg.Comment, "destinations >= D") {
		t.Errorf("comment lacks evidence: %s", sg.Comment)
	}
}

// TestSuppressServiceCountsPerPort: a host answering from several ports,
// in runs and interleaved, is credited the exact replies of each port.
func TestSuppressServiceCountsPerPort(t *testing.T) {
	srv := ip("10.20.1.1")
	ports := []uint16{53, 53, 53, 123, 53, 123, 123, 389}
	want := map[uint16]int{}
	var flows []flow.Record
	for i := 0; i < 400; i++ {
		p := ports[i%len(ports)]
		if i >= 300 {
			p = 123 // a long stretch of one port at the end
		}
		want[p]++
		flows = append(flows, rec(srv, nth("10.30.0.1", i), 17, p, uint16(20000+i), 0, t0+int64(i)*100))
	}
	a := New(Config{})
	feed(a, flows, []analyze.Finding{hostScan(srv, 201, flows[200].Start)})
	res := a.Result()
	if len(res.Suppress) != 1 {
		t.Fatalf("suppress = %+v", res.Suppress)
	}
	for p, n := range want {
		name := map[uint16]string{53: "udp/53", 123: "udp/123", 389: "udp/389"}[p]
		if ev := fmt.Sprintf("%s (%d flows)", name, n); !strings.Contains(res.Suppress[0].Comment, ev) {
			t.Errorf("evidence lacks %q:\n%s", ev, res.Suppress[0].Comment)
		}
	}
}

func TestSuppressWebServerRepliesSuggested(t *testing.T) {
	web := ip("10.20.1.80")
	var flows []flow.Record
	for i := 0; i < 300; i++ {
		flows = append(flows, rec(web, nth("172.16.0.1", i), 6, 443, uint16(30000+i), 0x1b, t0+int64(i)))
	}
	a := New(Config{})
	feed(a, flows, []analyze.Finding{hostScan(web, 201, t0+200)})
	res := a.Result()
	if len(res.Suppress) != 1 || res.Suppress[0].Line != "10.20.1.80 6 443 -" {
		t.Fatalf("suppress = %+v", res.Suppress)
	}
}

// TestSuppressPortScannedWebServer: a web server that also answered a port
// scan (one RST+ACK from each probed port, all to the scanner; the probe of
// 443 is one more flow from the web port) is suggested for its web port
// alone. The probed ports answered one peer each: counting them as service
// made the entry "6 - -", which silences every TCP flow of the host, a scan
// it might send later included.
func TestSuppressPortScannedWebServer(t *testing.T) {
	web, scanner := ip("10.20.1.80"), ip("192.0.2.77")
	var flows []flow.Record
	for i := 0; i < 300; i++ {
		flows = append(flows, rec(web, nth("172.16.0.1", i), 6, 443, uint16(30000+i), 0x1b, t0+int64(i)*10))
	}
	for p := 1; p <= 500; p++ {
		flows = append(flows, rec(web, scanner, 6, uint16(p), 51000, flow.TCPRst|flow.TCPAck, t0+3000+int64(p)))
	}
	a := New(Config{})
	feed(a, flows, []analyze.Finding{hostScan(web, 201, flows[200].Start)})
	res := a.Result()
	if len(res.Suppress) != 1 || res.Suppress[0].Line != "10.20.1.80 6 443 -" {
		t.Fatalf("suppress = %+v", res.Suppress)
	}
	c := res.Suppress[0].Comment
	if !strings.Contains(c, "tcp/443 (301 flows), and ") || !strings.Contains(c, "499 replies from 499 other ports") || strings.Contains(c, "tcp/1 ") {
		t.Errorf("evidence does not set the probed ports apart:\n%s", c)
	}

	// Each reply from a port of its own, none of them MinPeers times: no
	// service port, no suggestion.
	var stray []flow.Record
	for i := 0; i < 300; i++ {
		stray = append(stray, rec(web, nth("172.16.0.1", i), 6, uint16(1+i), 51000, flow.TCPRst|flow.TCPAck, t0+int64(i)))
	}
	a = New(Config{})
	feed(a, stray, []analyze.Finding{hostScan(web, 201, stray[200].Start)})
	if res := a.Result(); len(res.Suppress) != 0 {
		t.Fatalf("host with no service port suggested: %+v", res.Suppress)
	}
}

// TestTargetsLeaveOutSuggestedServers: a DNS server that crossed dscan's
// threshold by answering its clients is suggested for the suppress list,
// and its clients and their ephemeral ports are not "most scanned"; the
// scanner's targets are. The server's episode is marked as service.
func TestTargetsLeaveOutSuggestedServers(t *testing.T) {
	dns, scanner := ip("10.20.1.53"), ip("203.0.113.9")
	var flows []flow.Record
	var fs []analyze.Finding
	for i := 0; i < 300; i++ {
		// Each client asks twice, so the server's clients outnumber the
		// scanner's targets in flows.
		c := nth("10.30.0.1", i%150)
		flows = append(flows, rec(dns, c, 17, 53, uint16(20000+i), 0, t0+int64(i)*100))
	}
	fs = append(fs, hostScan(dns, 201, flows[200].Start))
	for i := 0; i < 250; i++ {
		flows = append(flows, rec(scanner, nth("10.40.0.1", i), 6, 40000, 22, flow.TCPSyn, t0+40_000+int64(i)*10))
	}
	fs = append(fs, hostScan(scanner, 300+201, flows[300+200].Start))
	a := New(Config{TopTargets: 500})
	feed(a, flows, fs)
	res := a.Result()
	if len(res.Episodes) != 2 || len(res.Suppress) != 1 || res.Suppress[0].Addr != dns {
		t.Fatalf("episodes %d, suppress %+v", len(res.Episodes), res.Suppress)
	}
	// The scanners table keeps both episodes; only the server's is marked.
	for _, ep := range res.Episodes {
		if ep.Service != (ep.Src == dns) {
			t.Fatalf("episode of %v: Service = %v", ep.Src, ep.Service)
		}
	}
	if len(res.TargetHosts) != 250 || len(res.TargetPorts) != 1 || res.TargetPorts[0].Port != 22 {
		t.Fatalf("targets: %d hosts and %d ports; want the scanner's 250 hosts and port 22 alone", len(res.TargetHosts), len(res.TargetPorts))
	}
	for _, h := range res.TargetHosts {
		if len(h.Scanners) != 1 || h.Scanners[0].Src != scanner {
			t.Fatalf("target %v scanned by %+v", h.Addr, h.Scanners)
		}
	}
}

func TestSuppressSynScannerFromPort80NeverSuggested(t *testing.T) {
	s := ip("203.0.113.80")
	var flows []flow.Record
	for i := 0; i < 300; i++ {
		// Source port 80 to unprivileged ports, SYN only: a scan that
		// dresses as web replies.
		flows = append(flows, rec(s, nth("10.40.0.1", i), 6, 80, uint16(1024+i), flow.TCPSyn, t0+int64(i)))
	}
	a := New(Config{})
	feed(a, flows, []analyze.Finding{hostScan(s, 201, t0+200)})
	res := a.Result()
	if len(res.Suppress) != 0 {
		t.Fatalf("SYN-only scanner suggested: %+v", res.Suppress)
	}
	// Even with a mostly-reply disguise (1 in 10 flows SYN-only), the scan
	// signs keep it out.
	var mixed []flow.Record
	for i := 0; i < 300; i++ {
		f := uint8(0x1b)
		if i%10 == 0 {
			f = flow.TCPSyn | flow.TCPRst
		}
		mixed = append(mixed, rec(s, nth("10.40.0.1", i), 6, 80, uint16(1024+i), f, t0+int64(i)))
	}
	a = New(Config{})
	feed(a, mixed, []analyze.Finding{hostScan(s, 201, t0+200)})
	if res := a.Result(); len(res.Suppress) != 0 {
		t.Fatalf("host with 10%% SYN+RST flows suggested: %+v", res.Suppress)
	}
	if len(res.Episodes) != 1 || res.Episodes[0].NoAckFlows != 300 {
		t.Fatalf("episode = %+v", res.Episodes)
	}
}

func TestOrderIndependence(t *testing.T) {
	s1, s2 := ip("203.0.113.1"), ip("203.0.113.2")
	var flows []flow.Record
	for i := 0; i < 40; i++ {
		src := s1
		if i%2 == 1 {
			src = s2
		}
		flows = append(flows, rec(src, nth("10.0.0.1", i), 6, 1234, uint16(i%7), flow.TCPSyn, t0+int64(i)*1000))
	}
	det1 := []analyze.Finding{hostScan(s1, 21, flows[20].Start), hostScan(s2, 30, flows[29].Start)}
	det2 := []analyze.Finding{
		{Detector: "trw", Kind: analyze.TRWScan, Src: s2, Index: 8, Time: flows[7].Start, Rule: "LR", Threshold: 99, Value: 100},
		{Detector: "trw", Kind: analyze.TRWScan, Src: s1, Index: 11, Time: flows[10].Start, Rule: "LR", Threshold: 99, Value: 100},
		{Detector: "dscan", Kind: analyze.ExcessiveOctets, Src: s1, Index: 3, Time: flows[2].Start, Rule: "octets > O", Flow: flows[2]},
	}
	// Order A: each finding right after its flow, detector 1 first.
	a := New(Config{})
	feed(a, flows, append(cloneF(det1), det2...))
	ra := a.Result()
	// Order B: all flows first, then detector 2's findings, then detector 1's.
	b := New(Config{})
	b.Add(flows)
	for _, f := range det2 {
		b.AddFinding(f)
	}
	for _, f := range det1 {
		b.AddFinding(f)
	}
	rb := b.Result()
	// Order C: findings before the flows.
	c := New(Config{})
	for _, f := range det1 {
		c.AddFinding(f)
	}
	for i := len(det2) - 1; i >= 0; i-- {
		c.AddFinding(det2[i])
	}
	c.Add(flows)
	rc := c.Result()
	if !reflect.DeepEqual(ra, rb) || !reflect.DeepEqual(ra, rc) {
		t.Fatalf("results differ with finding order:\nA %+v\nB %+v\nC %+v", ra, rb, rc)
	}
	if len(ra.Episodes) != 2 || len(ra.Excessive) != 1 || ra.Episodes[0].Kind != "host scan + trw-scan" {
		t.Fatalf("unexpected result %+v", ra)
	}
}

func cloneF(f []analyze.Finding) []analyze.Finding { return append([]analyze.Finding(nil), f...) }

func TestOrphanFindingAndExcessive(t *testing.T) {
	victim := ip("10.5.5.5")
	a := New(Config{})
	a.Add(flow.Batch{rec(ip("10.0.0.1"), victim, 6, 1, 2, 0x1b, t0)})
	a.AddFinding(analyze.Finding{Detector: "heuristics", Kind: analyze.FanOut, Src: victim, Index: 1, Time: t0,
		Rule: "peers > N", Threshold: 100, Value: 150, Targets: []netip.Addr{ip("10.0.0.1"), ip("10.0.0.2")}})
	res := a.Result()
	if len(res.Episodes) != 1 {
		t.Fatalf("episodes = %+v", res.Episodes)
	}
	e := res.Episodes[0]
	if !e.Partial || e.Flows != 0 || e.Targets != 2 || e.Kind != "fan-out" || e.Flags != "" {
		t.Errorf("orphan episode = %+v", e)
	}
	if len(res.Suppress) != 0 {
		t.Errorf("evidence-only host suggested: %+v", res.Suppress)
	}
}

func TestSweepFreesQuietSources(t *testing.T) {
	a := New(Config{Gap: 1000, FindingLag: 100})
	var b flow.Batch
	for i := 0; i < 3*sweepEvery; i++ {
		// Every flow from a new source, one ms apart.
		b = append(b, rec(nth("100.64.0.0", i), ip("10.0.0.1"), 17, 1000, 2000, 0, t0+int64(i)))
	}
	scanner := b[5].Src
	a.AddFinding(hostScan(scanner, 6, b[5].Start))
	a.Add(b)
	if n := a.sources.len(); n > sweepEvery+1100 {
		t.Errorf("sources kept after sweeps = %d, want about the last sweep's live ones", n)
	}
	// The flagged source's run ended long ago: its episode is built and
	// its run freed like the others.
	if a.sources.get(scanner) != nil || len(a.done) != 1 {
		t.Fatalf("flagged source still held (%v), %d episodes built early", a.sources.get(scanner) != nil, len(a.done))
	}
	res := a.Result()
	if len(res.Episodes) != 1 || res.Episodes[0].Flows != 1 || res.Episodes[0].Partial || res.Episodes[0].Src != scanner {
		t.Fatalf("episodes = %+v", res.Episodes)
	}
}

// Episodes built at a sweep, once their runs ended, equal those built at
// the end: several flagged sources with runs split by Gap, findings of
// several detectors, among many quiet sources that keep the sweeps going.
func TestEarlyEpisodesSameResult(t *testing.T) {
	var flows []flow.Record
	var fs []analyze.Finding
	scanners := []netip.Addr{ip("203.0.113.1"), ip("203.0.113.2"), ip("2001:db8::7")}
	for i := 0; i < 4*sweepEvery; i++ {
		tm := t0 + int64(i)*10
		if i%50 == 7 {
			s := scanners[(i/50)%3]
			// Runs of each scanner end every 2,000 flows (Gap 3 s = 300 flows of silence).
			if (i/2000)%2 == 0 {
				flows = append(flows, rec(s, nth("10.9.0.0", i%400), 6, 40000, uint16(20+i%30), flow.TCPSyn, tm))
				if i%1000 == 7 {
					fs = append(fs, analyze.Finding{Detector: "trw", Kind: analyze.TRWScan, Src: s, Index: uint64(len(flows)), Time: tm,
						Rule: "LR", Threshold: 99, Value: float64(100 + i)})
				}
				if i%1500 == 7 {
					fs = append(fs, hostScan(s, uint64(len(flows)), tm))
				}
				continue
			}
		}
		flows = append(flows, rec(nth("100.64.0.0", i), ip("10.0.0.1"), 17, 1000, 2000, 0, tm))
	}
	run := func(lag uint64) (*Accountant, *Result) {
		a := New(Config{Gap: 3000, FindingLag: lag})
		feed(a, flows, fs)
		return a, a.Result()
	}
	early, re := run(100)
	late, rl := run(1 << 40)
	if len(early.done) == 0 || len(late.done) != 0 {
		t.Fatalf("episodes built early: %d with a short lag, %d with a long one", len(early.done), len(late.done))
	}
	// The early sweeps hand the runs and sources they let go to the
	// sources that come after: reused, they must leave nothing behind.
	if early.spare.reused == 0 || late.spare.reused != 0 {
		t.Fatalf("runs and sources reused: %d with a short lag, %d with a long one", early.spare.reused, late.spare.reused)
	}
	if len(rl.Episodes) < 6 || !reflect.DeepEqual(re, rl) {
		t.Fatalf("results differ (%d and %d episodes)", len(re.Episodes), len(rl.Episodes))
	}
}

func TestFollowUp(t *testing.T) {
	s := ip("203.0.113.45")
	a := New(Config{Archive: "/var/flows/router 1"})
	flows := []flow.Record{rec(s, ip("10.0.0.1"), 6, 1, 22, 2, t0+500), rec(s, ip("10.0.0.2"), 6, 1, 22, 2, t0+60_000)}
	feed(a, flows, []analyze.Finding{hostScan(s, 2, t0+60_000)})
	fu := a.Result().Episodes[0].FollowUp
	wantFT := "flow-cat '/var/flows/router 1' | flow-nfilter -f scan-203-0-113-45-20231114T221320.nfilter -F scan-203-0-113-45-20231114T221320 | flow-print"
	if fu.FlowTools != wantFT {
		t.Errorf("flow-tools = %q", fu.FlowTools)
	}
	for _, w := range []string{"type ip-address\n  permit 203.0.113.45", "deny lt 2023-11-14 22:13:20 UTC", "deny gt 2023-11-14 22:14:21 UTC",
		"default permit", "match src-ip-addr scan-203-0-113-45-20231114T221320-src", "match start-time"} {
		if !strings.Contains(fu.FilterFile, w) {
			t.Errorf("filter file lacks %q:\n%s", w, fu.FilterFile)
		}
	}
	if fu.Nfdump != "TZ=UTC nfdump -R '/var/flows/router 1' -t 2023/11/14.22:13:20-2023/11/14.22:14:21 'src ip 203.0.113.45'" {
		t.Errorf("nfdump = %q", fu.Nfdump)
	}
}

// The targets views list each scanner once per target, with the span of
// all its episodes that hit it, even when another scanner's episode comes
// between two of them; and only the TopTargets first rows are kept.
func TestTargetsAcrossEpisodes(t *testing.T) {
	a, b := ip("198.51.100.7"), ip("198.51.100.8")
	victim := ip("10.1.0.1")
	const h = 3_600_000
	var flows []flow.Record
	var fs []analyze.Finding
	scan := func(src netip.Addr, start int64, others int) {
		flows = append(flows, rec(src, victim, 6, 5000, 22, flow.TCPSyn, start))
		for i := 0; i < others; i++ {
			flows = append(flows, rec(src, nth("10.2.0.1", i), 6, 5000, uint16(1000+i), flow.TCPSyn, start+1+int64(i)))
		}
		fs = append(fs, hostScan(src, uint64(len(flows)), start+int64(others)))
	}
	scan(a, t0, 3)      // a's first episode
	scan(b, t0+5*h, 2)  // b's, in between
	scan(a, t0+10*h, 1) // a's second
	acc := New(Config{TopTargets: 2})
	feed(acc, flows, fs)
	res := acc.Result()
	if len(res.Episodes) != 3 {
		t.Fatalf("episodes %d, want 3", len(res.Episodes))
	}
	if len(res.TargetHosts) != 2 || len(res.TargetPorts) != 2 {
		t.Fatalf("views have %d and %d rows, want TopTargets = 2", len(res.TargetHosts), len(res.TargetPorts))
	}
	top := res.TargetHosts[0]
	want := []Scanner{{Src: a, First: t0, Last: t0 + 10*h + 1 + 10}, {Src: b, First: t0 + 5*h, Last: t0 + 5*h + 2 + 10}}
	if top.Addr != victim || top.Episodes != 3 || top.Flows != 3 || !reflect.DeepEqual(top.Scanners, want) {
		t.Fatalf("top target %+v, want %v hit by 3 episodes of %v", top, victim, want)
	}
	// Second row: 10.2.0.1, hit by both scanners' episodes too (a twice).
	if res.TargetHosts[1].Addr != ip("10.2.0.1") || len(res.TargetHosts[1].Scanners) != 2 || res.TargetHosts[1].Episodes != 3 {
		t.Fatalf("second target %+v", res.TargetHosts[1])
	}
	if res.TargetPorts[0].Port != 22 || res.TargetPorts[0].Episodes != 3 || len(res.TargetPorts[0].Scanners) != 2 {
		t.Fatalf("top port %+v", res.TargetPorts[0])
	}
}

// TestTargetsRankedByDistinctScanners: a host hit by two scanners ranks
// above one hit as often by two episodes of one scanner, whatever their
// addresses.
func TestTargetsRankedByDistinctScanners(t *testing.T) {
	x, y := ip("10.1.0.1"), ip("10.1.0.2") // x sorts first
	const h = 3_600_000
	var flows []flow.Record
	var fs []analyze.Finding
	hit := func(src, dst netip.Addr, start int64) {
		flows = append(flows, rec(src, dst, 6, 5000, 22, flow.TCPSyn, start))
		fs = append(fs, hostScan(src, uint64(len(flows)), start))
	}
	hit(ip("198.51.100.7"), x, t0)
	hit(ip("198.51.100.8"), y, t0+1)
	hit(ip("198.51.100.9"), y, t0+2)
	hit(ip("198.51.100.7"), x, t0+5*h)
	acc := New(Config{})
	feed(acc, flows, fs)
	res := acc.Result()
	if len(res.TargetHosts) != 2 || res.TargetHosts[0].Addr != y || len(res.TargetHosts[0].Scanners) != 2 ||
		res.TargetHosts[1].Addr != x || len(res.TargetHosts[1].Scanners) != 1 || res.TargetHosts[1].Episodes != 2 {
		t.Fatalf("targets %+v: want %v (two scanners) before %v (one scanner, two episodes)", res.TargetHosts, y, x)
	}
}

// TestEpisodeSetsMixedFamilies: an episode's targets are its flows' IPv4
// and IPv6 destinations plus those only a finding names (with no flows),
// each once, in address order (IPv4 first); its ports sum the protocols
// and add the finding's.
func TestEpisodeSetsMixedFamilies(t *testing.T) {
	src := ip("2001:db8::5")
	v6a, v6b := ip("2001:db8:1::2"), ip("2001:db8:1::1")
	var flows []flow.Record
	for i, d := range []netip.Addr{ip("10.0.0.9"), v6a, ip("10.0.0.3"), v6b, v6a, ip("10.0.0.3")} {
		proto := uint8(6)
		if i%2 == 1 {
			proto = 17
		}
		flows = append(flows, rec(src, d, proto, 5000, 53, flow.TCPSyn, t0+int64(i)))
	}
	f := hostScan(src, 6, t0+6)
	f.Targets = []netip.Addr{ip("10.0.0.1"), v6a, ip("10.0.0.3")} // 10.0.0.1: no flow
	f.Ports = []uint16{53, 443}
	a := New(Config{SampleTargets: 10})
	feed(a, flows, []analyze.Finding{f})
	res := a.Result()
	if len(res.Episodes) != 1 {
		t.Fatalf("episodes %+v", res.Episodes)
	}
	ep := res.Episodes[0]
	want := []netip.Addr{ip("10.0.0.1"), ip("10.0.0.3"), ip("10.0.0.9"), v6b, v6a}
	if ep.Targets != 5 || !reflect.DeepEqual(ep.Sample, want) || ep.Ports != 2 {
		t.Fatalf("targets %d, sample %v, ports %d; want 5, %v, 2", ep.Targets, ep.Sample, ep.Ports, want)
	}
	flowsTo := map[netip.Addr]uint64{}
	for _, h := range res.TargetHosts {
		flowsTo[h.Addr] = h.Flows
	}
	if flowsTo[ip("10.0.0.3")] != 2 || flowsTo[v6a] != 2 || flowsTo[ip("10.0.0.1")] != 0 || len(flowsTo) != 5 {
		t.Fatalf("target flows %v", flowsTo)
	}
	if len(res.TargetPorts) != 2 || res.TargetPorts[0].Port != 53 || res.TargetPorts[0].Flows != 6 || res.TargetPorts[1].Port != 443 {
		t.Fatalf("ports %+v", res.TargetPorts)
	}
}

// No sweep comes before a run can be judged, FindingLag flows after the
// oldest last flow held: before that every sweep visited every source
// for nothing.
func TestNoSweepBeforeRunsCanBeJudged(t *testing.T) {
	var b flow.Batch
	for i := 0; i < 3*sweepEvery; i++ {
		b = append(b, rec(nth("100.64.0.0", i), ip("10.0.0.1"), 17, 1000, 2000, 0, t0+int64(i)))
	}
	a := New(Config{Gap: 1000, FindingLag: 1 << 20})
	a.Add(b)
	if a.nextSweep <= 1<<20 {
		t.Errorf("next sweep at flow %d, before the first run can be judged (flow %d)", a.nextSweep, 1<<20+1)
	}
	// With a short lag the sweeps run and free the quiet sources.
	a = New(Config{Gap: 1000, FindingLag: 100})
	a.Add(b)
	if a.sources.len() > sweepEvery+1100 {
		t.Errorf("%d sources held with a short lag: the sweeps did not run", a.sources.len())
	}
}
