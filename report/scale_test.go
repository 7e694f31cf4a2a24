package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/flowsift/flowsift/analyze/assess"
	"github.com/flowsift/flowsift/analyze/episode"
	"github.com/flowsift/flowsift/analyze/talkers"
	"github.com/flowsift/flowsift/flow"
)

const (
	nBackground = 12000 // the worst case was 6,003 TRW "scanners"
	nLocal      = 3
	nAnswered   = 4
	nOther      = 150
)

// hugeInput is an archive's worth of results made in memory: a few local
// scanners, a few answered outside scans, many other episodes, twelve
// thousand background sources, target rows naming every one of them,
// thousands of excessive flows and skips, and --top 1000 talker tables.
func hugeInput() Input {
	local := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	var eps []episode.Episode
	ep := func(src netip.Addr, i int, targets, localTargets int, tcp, noAck uint64, ports ...episode.PortCount) episode.Episode {
		e := episode.Episode{Src: src, Kind: "host scan + trw-scan", Detectors: []string{"dscan", "trw"},
			Rules: []episode.DetectorRule{{Detector: "dscan", Kind: "host-scan", Rule: "destinations >= D", Threshold: 200, Value: 201, Count: 1},
				{Detector: "trw", Kind: "trw-scan", Rule: "likelihood ratio >= eta1", Threshold: 99, Value: 256, Count: 1}},
			First: t0 + int64(i)*60_000, Last: t0 + int64(i)*60_000 + 30_000, Flows: uint64(targets) * 2, Packets: uint64(targets) * 2, Bytes: uint64(targets) * 88,
			Targets: targets, LocalTargets: localTargets, Ports: len(ports), TopPorts: ports, TCPFlows: tcp, NoAckFlows: noAck, Flags: "fSrpauxy"}
		for k := 0; k < 10 && k < targets; k++ {
			e.Sample = append(e.Sample, netip.AddrFrom4([4]byte{10, 1, byte(k >> 8), byte(k)}))
		}
		e.FollowUp = episode.FollowUp{FlowTools: "flow-cat /flows | flow-nfilter -f x.nfilter -F x | flow-print", Nfdump: "nfdump -R /flows 'src ip " + src.String() + "'"}
		return e
	}
	tcp := func(p uint16, n uint64) episode.PortCount { return episode.PortCount{Proto: 6, Port: p, Flows: n} }
	for i := range nLocal {
		eps = append(eps, ep(netip.AddrFrom4([4]byte{10, 20, 0, byte(i)}), i, 300+i, 300+i, 600, 600, tcp(22, 600)))
	}
	for i := range nAnswered {
		eps = append(eps, ep(netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), i, 250, 250, 500, 400, tcp(443, 500)))
	}
	for i := range nOther {
		// Outside targets: not background.
		eps = append(eps, ep(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), i, 220, 100, 0, 0, episode.PortCount{Proto: 17, Port: 53, Flows: 440}))
	}
	var all []episode.Scanner
	for i := range nBackground {
		src := netip.AddrFrom4([4]byte{203, byte(i >> 16), byte(i >> 8), byte(i)})
		icmp := episode.PortCount{Proto: 1, Port: 8 << 8, Flows: 3}
		eps = append(eps, ep(src, i, 3+i%50, 3+i%50, 3, 3, tcp(23, 3), tcp(uint16(1000+i%7), 1), icmp))
		all = append(all, episode.Scanner{Src: src, First: t0, Last: t0 + 1})
	}
	var hosts, ports []episode.Target
	for i := range 20 {
		hosts = append(hosts, episode.Target{Addr: netip.AddrFrom4([4]byte{10, 1, 0, byte(i)}), Scanners: all, Episodes: len(all), Flows: 9999})
		ports = append(ports, episode.Target{Port: uint16(i), Scanners: all, Episodes: len(all), Flows: 9999})
	}
	var ex []episode.Excessive
	for i := range 5000 {
		ex = append(ex, episode.Excessive{Kind: "excessive-octets", Rule: "octets > O", Threshold: 1e9, Value: 2e9,
			Flow: flow.Record{Src: netip.MustParseAddr("10.3.3.3"), Dst: netip.MustParseAddr("192.0.2.9"), Proto: 1, DstPort: 8 << 8, Start: t0 + int64(i), End: t0 + int64(i)}})
	}
	var skips []flow.Skip
	for i := range 5000 {
		skips = append(skips, flow.Skip{Path: "/flows/x.csv", Offset: -1, Line: int64(i + 2), Reason: "bad-row", Count: 1, Detail: "bad address"})
	}
	var tables []talkers.Table
	for _, k := range []talkers.Key{talkers.SrcIP, talkers.DstIP, talkers.Pair} {
		for _, o := range []talkers.Order{talkers.ByFlows, talkers.ByBytes} {
			tb := talkers.Table{Key: k, Order: o, N: 1000, Distinct: 5_000_000}
			for i := range 1000 {
				a := netip.AddrFrom4([4]byte{203, 0, byte(i >> 8), byte(i)})
				tb.Rows = append(tb.Rows, talkers.Row{Addr: a, Dst: a})
			}
			tables = append(tables, tb)
		}
	}
	var paths []string
	for i := range 300 {
		paths = append(paths, fmt.Sprintf("/flows/router-%03d", i))
	}
	return Input{Version: "test", GeneratedAt: time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC), Zone: time.UTC,
		FirstFlow: t0, LastFlow: t0 + 31*86_400_000, Paths: paths, FilesSeen: 8928, FilesRead: 8928, Flows: 50_000_000,
		Skips: skips, Partial: true, Local: local, Detectors: []string{"dscan", "trw"},
		Result: &episode.Result{Episodes: eps, TargetHosts: hosts, TargetPorts: ports, Excessive: ex}, Tables: tables}
}

// TestSizeBounded: whatever the archive, the formats for people stay
// small (HTML under 2 MB, Markdown and the mail under 200 kB), lists are
// cut with a count of the rest, and CSV and JSON keep every row.
func TestSizeBounded(t *testing.T) {
	m := Build(hugeInput())
	var h, md, ml, js bytes.Buffer
	if err := HTML(&h, m); err != nil {
		t.Fatal(err)
	}
	if err := Markdown(&md, m); err != nil {
		t.Fatal(err)
	}
	if err := Mail(&ml, m, "flowsift@example.org", "noc@example.org", "s"); err != nil {
		t.Fatal(err)
	}
	if err := JSON(&js, m); err != nil {
		t.Fatal(err)
	}
	t.Logf("html %d B, md %d B, mail %d B, json %d B", h.Len(), md.Len(), ml.Len(), js.Len())
	if h.Len() > 2<<20 {
		t.Errorf("HTML is %d bytes, more than 2 MiB", h.Len())
	}
	if md.Len() > 200<<10 {
		t.Errorf("Markdown is %d bytes, more than 200 kiB", md.Len())
	}
	if ml.Len() > 150<<10 {
		t.Errorf("mail is %d bytes, more than 150 kiB", ml.Len())
	}
	for name, s := range map[string]string{"html": h.String(), "md": md.String()} {
		// A target row names 12,000 scanners: cut, with the count.
		if !strings.Contains(s, fmt.Sprintf("... and %s more", Commas(nBackground-HTMLLimits.Cell))) &&
			!strings.Contains(s, fmt.Sprintf("... and %s more", Commas(nBackground-TextLimits.Cell))) &&
			!strings.Contains(s, fmt.Sprintf("... and %s more", Commas(nBackground-MailLimits.Cell))) {
			t.Errorf("%s: target cells not cut with a count", name)
		}
		if !strings.Contains(s, "12,000 outside sources") {
			t.Errorf("%s: background section does not count the sources", name)
		}
		if !strings.Contains(s, "tcp/23 (12,000 sources)") || !strings.Contains(s, "icmp/echo-request (12,000 sources)") {
			t.Errorf("%s: background ports not aggregated by name", name)
		}
		// An ICMP flow's port is its type, by name, where flows are listed.
		if !strings.Contains(s, "echo-request") || !strings.Contains(s, "(icmp)") || strings.Contains(s, "| 2048 ") || strings.Contains(s, ">2048<") {
			t.Errorf("%s: excessive ICMP flows not shown by type name", name)
		}
	}
	// CSV and JSON are whole.
	for _, tb := range m.Tables() {
		if tb.Name == "scanners" && len(tb.Rows) != nLocal+nAnswered+nOther+nBackground {
			t.Errorf("scanners.csv has %d rows", len(tb.Rows))
		}
		if tb.Name == "target_hosts" {
			var b bytes.Buffer
			CSV(&b, tb)
			rows, err := csv.NewReader(&b).ReadAll()
			if err != nil || len(strings.Fields(rows[1][3]))/2 != nBackground {
				t.Errorf("target_hosts.csv does not list every scanner: %v", err)
			}
		}
	}
	var back Model
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Scanners) != len(m.Scanners) || back.Background.Sources != nBackground {
		t.Errorf("JSON lost rows: %v, %d scanners, %d background sources", err, len(back.Scanners), back.Background.Sources)
	}
}

// TestFindingsFirstRanked: local scanners come first, then the answered
// outside scans, then the rest, then background radiation as one
// section; the settings close the report.
func TestFindingsFirstRanked(t *testing.T) {
	m := Build(hugeInput())
	count := map[string]int{}
	for _, s := range m.Scanners {
		count[s.Class]++
	}
	if count[ClassLocal] != nLocal || count[ClassAnswered] != nAnswered || count[ClassOther] != nOther || count[ClassBackground] != nBackground {
		t.Fatalf("classes %v", count)
	}
	loc := m.Ranked(ClassLocal)
	// Widest reach into local space first.
	if loc[0].Src != "10.20.0.2" || loc[0].Rank != 1 || loc[2].Src != "10.20.0.0" {
		t.Errorf("local ranking: %v %v %v", loc[0].Src, loc[0].Rank, loc[2].Src)
	}
	if a := m.Ranked(ClassAnswered); a[0].Rank != nLocal+1 {
		t.Errorf("answered rank starts at %d", a[0].Rank)
	}
	var md bytes.Buffer
	Markdown(&md, m)
	var h bytes.Buffer
	HTML(&h, m)
	for name, s := range map[string]string{"md": md.String(), "html": h.String()} {
		var at []int
		for _, title := range []string{"Local hosts that scan", "Outside scans that got answers", "Other findings", "Background radiation", "Excessive flows", "Top srcip", "Follow-up commands", "Inputs by path", "Summary and settings"} {
			i := strings.Index(s, title)
			if i < 0 {
				t.Fatalf("%s lacks %q", name, title)
			}
			at = append(at, i)
		}
		for i := 1; i < len(at); i++ {
			if at[i] < at[i-1] {
				t.Errorf("%s: sections out of order at %d: %v", name, i, at)
			}
		}
		// Background sources do not get a row each: 20, then the rest.
		if !strings.Contains(s, fmt.Sprintf("... and %s more", Commas(nBackground-backgroundTop))) {
			t.Errorf("%s: background top %d has no count of the rest", name, backgroundTop)
		}
		if strings.Count(s, "203.0.0.200") > 0 && strings.Count(s, "203.0.46.") > 0 {
			t.Errorf("%s: lists background sources beyond the top", name)
		}
	}
	// The first local scanner heads the text and the follow-ups.
	if i, j := strings.Index(md.String(), "10.20.0.2"), strings.Index(md.String(), "198.51.100."); i < 0 || j < i {
		t.Error("local scanner not ahead of outside ones in Markdown")
	}
}

// Without local networks nothing can be called local or background.
func TestClassesNeedLocal(t *testing.T) {
	in := hugeInput()
	in.Local = nil
	m := Build(in)
	for _, s := range m.Scanners {
		if s.Class != ClassOther || s.Origin != "" {
			t.Fatalf("%s: class %q origin %q without --local", s.Src, s.Class, s.Origin)
		}
	}
	var md bytes.Buffer
	Markdown(&md, m)
	if !strings.Contains(md.String(), "Needs the local networks") {
		t.Error("background section does not say it needs --local")
	}
}

func TestICMPNames(t *testing.T) {
	for _, c := range []struct {
		proto uint8
		port  uint16
		want  string
	}{{1, 8 << 8, "echo-request"}, {1, 0, "echo-reply"}, {1, 3<<8 | 3, "dest-unreach/port-unreach"}, {1, 3 << 8, "dest-unreach/net-unreach"},
		{1, 11 << 8, "time-exceeded/ttl-exceeded"}, {1, 3<<8 | 14, "dest-unreach/code-14"}, {1, 42<<8 | 1, "type-42/code-1"},
		{58, 128 << 8, "echo-request"}, {58, 129 << 8, "echo-reply"}, {58, 1<<8 | 4, "dest-unreach/port-unreach"}, {58, 135 << 8, "neighbor-solicit"}} {
		if got := ICMPName(c.proto, c.port); got != c.want {
			t.Errorf("ICMPName(%d, %d) = %q, want %q", c.proto, c.port, got, c.want)
		}
	}
	if got := portName(1, 2048); got != "icmp/echo-request" {
		t.Errorf("portName(icmp, 2048) = %q", got)
	}
	if got := portName(6, 2048); got != "tcp/2048" {
		t.Errorf("portName(tcp, 2048) = %q", got)
	}
}

func TestCapList(t *testing.T) {
	items := []string{"a", "b", "c", "d"}
	if got := capList(items, 2, ", "); got != "a, b, ... and 2 more" {
		t.Errorf("capList = %q", got)
	}
	if got := capList(items, 4, ", "); got != "a, b, c, d" {
		t.Errorf("capList = %q", got)
	}
	if Commas(6012) != "6,012" || Commas(uint64(1234567)) != "1,234,567" || Commas(12) != "12" || Commas(-1234) != "-1,234" {
		t.Error("Commas")
	}
}

// TestTextFits80Columns: the mail's text part reads on a phone: no line
// wider than 80 columns, a long command continued with a backslash.
func TestTextFits80Columns(t *testing.T) {
	m := Build(hugeInput())
	m.Scanners[0].Nfdump = "TZ=UTC nfdump -R '/var/cache/nfdump/a very long/path/that/goes/on/and/on' -t 2026/11/01.00:00:00-2026/11/01.00:01:00 'src ip 10.20.0.0'"
	m.Scanners[0].Rank = 0 // first in the follow-ups
	for _, mm := range []*Model{m, handModel()} {
		var b bytes.Buffer
		if err := Text(&b, mm); err != nil {
			t.Fatal(err)
		}
		for i, l := range strings.Split(b.String(), "\n") {
			if n := len([]rune(l)); n > TextWidth {
				t.Errorf("line %d is %d columns: %q", i+1, n, l)
			}
		}
		if strings.Contains(b.String(), "|---") || strings.Contains(b.String(), "<") && !strings.Contains(b.String(), "<script>") {
			t.Error("text part has Markdown tables or markup")
		}
	}
	var b bytes.Buffer
	Text(&b, m)
	if !strings.Contains(b.String(), "    TZ=UTC nfdump -R '/var/cache/nfdump/a very long/path/that/goes/on/and/on' \\\n      -t ") {
		t.Errorf("long command not continued with a backslash:\n%s", b.String()[strings.Index(b.String(), "FOLLOW-UP"):][:800])
	}
	if !strings.Contains(b.String(), "LOCAL HOSTS THAT SCAN") || !strings.Contains(b.String(), "#1 10.20.0.2 host scan + trw-scan") {
		t.Errorf("text lacks the ranked local section:\n%.1500s", b.String())
	}
}

// TestMailHTMLInline: the mail's HTML part has no style block, no SVG
// and nothing external; its styles are inline.
func TestMailHTMLInline(t *testing.T) {
	var b bytes.Buffer
	if err := MailHTML(&b, Build(hugeInput())); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, bad := range []string{"<style", "<svg", "<link", "<img", "<script", "url(", "src=", "href=", "class="} {
		if strings.Contains(page, bad) {
			t.Errorf("mail HTML has %q", bad)
		}
	}
	if !strings.Contains(page, `<body style="`) || !strings.Contains(page, "Local hosts that scan") {
		t.Error("mail HTML lacks inline styles or the findings")
	}
}

// The assessment's severity orders the findings inside a class, and a
// finding it holds back (a role explains it) is not a local scanner.
func TestSeverityRanksInsideClass(t *testing.T) {
	in := hugeInput()
	// Episode 0 is the local scanner with the fewest targets; 1 is held back.
	in.Assessment = &assess.Result{Findings: []assess.Finding{
		{Episode: 0, Severity: assess.Critical, Confidence: 0.9, Reason: "local host compromised"},
		{Episode: 1, Severity: assess.Info, HeldBack: true, Reason: "held back: a monitoring host"},
		{Episode: 2, Severity: assess.High, Confidence: 0.5}}}
	m := Build(in)
	loc := m.Ranked(ClassLocal)
	if len(loc) != nLocal-1 || loc[0].Src != "10.20.0.0" || loc[0].Rank != 1 || loc[0].Severity != "critical" {
		t.Fatalf("local section: %+v", loc)
	}
	if m.Scanners[1].Class != ClassOther || !m.Scanners[1].HeldBack {
		t.Errorf("held-back episode classed %q", m.Scanners[1].Class)
	}
	var b bytes.Buffer
	Text(&b, m)
	if !strings.Contains(b.String(), "#1 10.20.0.0 host scan + trw-scan critical") || !strings.Contains(b.String(), "critical\n    local host compromised\n") {
		t.Errorf("text does not lead with the critical finding and its reason:\n%.1200s", b.String())
	}
}

// The streamed JSON is byte for byte json.MarshalIndent of the model with
// empty lists as [].
func TestJSONStreamEqualsMarshalIndent(t *testing.T) {
	empty := &Model{}
	for _, m := range []*Model{handModel(), Build(hugeInput()), empty} {
		want, err := json.MarshalIndent(withEmptyLists(m), "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := JSON(&got, m); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), append(want, '\n')) {
			t.Fatalf("streamed JSON differs (%d vs %d bytes)", got.Len(), len(want)+1)
		}
	}
}

func TestSubject(t *testing.T) {
	got := Build(hugeInput()).Subject()
	want := "flowsift 2026-11-01T00:00:00Z .. 2026-12-02T00:00:00Z: 3 local scanning, 4 answered outside scans, 150 other, 12,000 background sources (PARTIAL)"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// An outside source is an "answered scan" when some of its connections
// were answered and most probes failed, or when the assessment rates it
// high; one most of whose connections were answered is a busy client a
// detector flagged, and goes to "other".
func TestAnsweredNeedsScanShape(t *testing.T) {
	local := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	mk := func(last byte, tcp, noAck uint64) episode.Episode {
		return episode.Episode{Src: netip.AddrFrom4([4]byte{198, 51, 100, last}), Kind: "trw-scan", Targets: 50, LocalTargets: 50, Flows: tcp, TCPFlows: tcp, NoAckFlows: noAck}
	}
	in := Input{Local: local, Result: &episode.Result{Episodes: []episode.Episode{mk(1, 100, 90), mk(2, 100, 10), mk(3, 100, 0), mk(4, 100, 50)}},
		Assessment: &assess.Result{Findings: []assess.Finding{{Episode: 2, Severity: assess.High, Reason: "password guessing"}}}}
	m := Build(in)
	want := []string{ClassAnswered, ClassOther, ClassAnswered, ClassAnswered}
	for i, s := range m.Scanners {
		if s.Class != want[i] {
			t.Errorf("%s (%d of %d TCP flows without ACK, severity %q): class %q, want %q", s.Src, s.NoAckFlows, s.TCPFlows, s.Severity, s.Class, want[i])
		}
	}
}
