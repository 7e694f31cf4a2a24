package assess

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/analyze/episode"
	"github.com/flowsift/flowsift/analyze/roles"
)

var a = netip.MustParseAddr

func sample(net string, n int) []netip.Addr {
	var s []netip.Addr
	for i := range n {
		s = append(s, a(fmt.Sprintf("%s.%d", net, i+1)))
	}
	return s
}

func ep(src string, first, last int64, kinds []analyze.Kind, dets []string, rules []episode.DetectorRule) episode.Episode {
	return episode.Episode{Src: a(src), First: first, Last: last, Kinds: kinds, Detectors: dets, Rules: rules,
		Flows: 300, TCPFlows: 300, NoAckFlows: 290, Targets: 256, Ports: 1,
		TopPorts: []episode.PortCount{{Port: 445, Proto: 6, Flows: 290}}}
}

func TestRankRolesAndReasons(t *testing.T) {
	hostScan := []analyze.Kind{analyze.HostScan, analyze.TRWScan}
	scanRules := []episode.DetectorRule{{Detector: "dscan", Kind: analyze.HostScan, Rule: "destinations >= D", Threshold: 200, Value: 256},
		{Detector: "trw", Kind: analyze.TRWScan, Rule: "likelihood ratio >= beta/alpha", Threshold: 99, Value: 256, Score: 256}}
	outside := ep("192.0.2.7", 1000, 61_000, hostScan, []string{"dscan", "trw"}, scanRules)
	outside.Sample = sample("10.0.9", 10)
	inside := ep("10.0.3.66", 2000, 62_000, hostScan, []string{"dscan", "trw"}, scanRules)
	inside.Sample = sample("10.0.10", 10)
	inside.TopPorts[0].Port = 23
	dnsServer := ep("10.0.0.53", 0, 3_600_000, []analyze.Kind{analyze.HostScan}, []string{"dscan"}, scanRules[:1])
	dnsServer.TopPorts = []episode.PortCount{{Port: 40000, Proto: 17, Flows: 3}}
	webScanning := ep("10.0.0.81", 0, 3_600_000, []analyze.Kind{analyze.HostScan}, []string{"dscan"}, scanRules[:1])
	suggested := ep("10.0.0.80", 0, 3_600_000, []analyze.Kind{analyze.HostScan}, []string{"dscan"}, scanRules[:1])
	suggested.Service = true
	guessing := ep("198.51.100.9", 5000, 200_000, []analyze.Kind{"password-guessing"}, []string{"guess"},
		[]episode.DetectorRule{{Detector: "guess", Kind: "password-guessing", Rule: "short accepted connections to one authentication service", Threshold: 30, Value: 30, Score: 0.9}})
	guessing.TopPorts = []episode.PortCount{{Port: 22, Proto: 6, Flows: 121}}
	guessing.Sample = []netip.Addr{a("10.0.8.10")}
	compromise := guessing
	compromise.Src = a("198.51.100.10")
	compromise.Kinds = []analyze.Kind{"password-guessing", "possible-compromise"}
	compromise.Rules = append(compromise.Rules, episode.DetectorRule{Detector: "guess", Kind: "possible-compromise", Threshold: 10, Value: 42, Score: 0.5})
	vertical := ep("192.0.2.55", 0, 330_000, []analyze.Kind{"vertical-scan"}, []string{"vscan"},
		[]episode.DetectorRule{{Detector: "vscan", Kind: "vertical-scan", Rule: "services of one destination refused or unanswered", Threshold: 10, Value: 10}})
	vertical.Targets, vertical.Ports, vertical.Flows, vertical.TCPFlows, vertical.NoAckFlows = 1, 22, 22, 22, 22
	vertical.Sample = []netip.Addr{a("10.0.8.12")}

	// A busy client that also talks to a port its role forbids: the role
	// explains the host scan, not the policy breach.
	proxy := ep("10.0.2.8", 0, 3_600_000, []analyze.Kind{analyze.HostScan, analyze.PolicyPort}, []string{"dscan", "heuristics"}, scanRules[:1])
	res := &episode.Result{Episodes: []episode.Episode{outside, inside, dnsServer, webScanning, suggested, guessing, compromise, vertical, proxy}}
	rs := []roles.Role{
		{Addr: a("10.0.0.53"), Role: roles.DNS, Figures: []roles.Figure{{Name: "peers", Value: 40, Threshold: 10}}},
		{Addr: a("10.0.0.81"), Role: roles.Server, ScanSigns: true, ScanFigs: []roles.Figure{{Name: "attempts refused", Value: 30, Threshold: 10}}},
		{Addr: a("10.0.2.8"), Role: roles.Client, Figures: []roles.Figure{{Name: "peers contacted", Value: 1905, Threshold: 10}}},
	}
	got := Assess(res, rs, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16")})
	var order []string
	for _, f := range got.Findings {
		order = append(order, fmt.Sprintf("%s %s %.2f held=%v", f.Src, f.Severity, f.Confidence, f.HeldBack))
	}
	want := []string{
		"198.51.100.10 critical 0.50 held=false",
		"10.0.3.66 high 0.90 held=false",
		"198.51.100.9 high 0.90 held=false",
		"10.0.2.8 high 0.85 held=false",
		"10.0.0.81 high 0.50 held=false",
		"192.0.2.7 medium 0.90 held=false",
		"192.0.2.55 medium 0.80 held=false",
		"10.0.0.53 info 0.50 held=true",
		"10.0.0.80 info 0.50 held=true",
	}
	if g, w := strings.Join(order, "\n"), strings.Join(want, "\n"); g != w {
		t.Fatalf("ranking\n%s\nwant\n%s", g, w)
	}
	if got.Counted() != 7 {
		t.Fatalf("counted %d", got.Counted())
	}
	reasons := map[string]string{}
	for _, f := range got.Findings {
		reasons[f.Src.String()] = f.Reason
		if len(f.Figures) == 0 {
			t.Errorf("%s: no figures", f.Src)
		}
	}
	for src, want := range map[string]string{
		"192.0.2.55":    "192.0.2.55 probed 22 ports of 10.0.8.12 over 6m0s, 100 % of its TCP flows unanswered: a vertical scan",
		"10.0.3.66":     "local host 10.0.3.66 contacted 256 hosts on tcp/23 over 1m0s, 97 % of its TCP flows unanswered: a host scan",
		"198.51.100.9":  "198.51.100.9 made 121 connections to 10.0.8.10 on tcp/22 in 3m0s, short and of similar size: password guessing",
		"198.51.100.10": "198.51.100.10 had a session 42 times longer or bigger than its many short logins to 10.0.8.10 on tcp/22: possible compromise after password guessing",
		"10.0.0.53":     "held back: 10.0.0.53 looks like a dns server (dns server: peers 40 (>= 10)) and shows no scan signs; the detectors saw: local host 10.0.0.53 contacted 256 hosts on udp/40000",
		"10.0.0.81":     "although it looks like a server, it shows scan signs (attempts refused 30 (>= 10))",
	} {
		if !strings.Contains(reasons[src], want) {
			t.Errorf("%s: reason %q\nwant it to contain %q", src, reasons[src], want)
		}
	}
}

func TestCampaigns(t *testing.T) {
	scan := []analyze.Kind{analyze.HostScan}
	rules := []episode.DetectorRule{{Detector: "dscan", Kind: analyze.HostScan, Threshold: 200, Value: 256}}
	d1 := ep("10.77.13.13", 0, 60_000, scan, []string{"dscan"}, rules)
	d1.Sample = sample("10.77.9", 10)
	d2 := ep("10.77.14.14", 10_000, 90_000, scan, []string{"dscan"}, rules)
	d2.Sample = sample("10.77.10", 10)
	d3 := ep("10.77.15.15", 50_000, 400_000, scan, []string{"dscan"}, rules)
	d3.Sample = sample("10.77.11", 10)
	same := ep("10.77.16.16", 0, 60_000, scan, []string{"dscan"}, rules) // the same targets as d1
	same.Sample = sample("10.77.9", 10)
	later := ep("10.77.17.17", 2_000_000, 2_100_000, scan, []string{"dscan"}, rules) // an hour later
	later.Sample = sample("10.77.8", 10)
	other := ep("10.77.18.18", 0, 60_000, scan, []string{"dscan"}, rules) // another port
	other.Sample = sample("10.77.12", 10)
	other.TopPorts[0].Port = 22
	far := ep("10.77.19.19", 0, 60_000, scan, []string{"dscan"}, rules) // another network
	far.Sample = sample("172.16.1", 10)
	res := &episode.Result{Episodes: []episode.Episode{d1, d2, d3, later, other, far}}
	got := Assess(res, nil, nil)
	if len(got.Campaigns) != 1 {
		t.Fatalf("campaigns %+v", got.Campaigns)
	}
	c := got.Campaigns[0]
	var members []string
	for _, m := range c.Members {
		members = append(members, m.Src.String())
	}
	if c.Port != 445 || c.Proto != 6 || c.Network.String() != "10.77.8.0/22" || strings.Join(members, " ") != "10.77.13.13 10.77.14.14 10.77.15.15" ||
		c.First != 0 || c.Last != 400_000 {
		t.Fatalf("campaign %+v", c)
	}
	for _, f := range got.Findings {
		if in := f.Src.String() >= "10.77.13" && f.Src.String() < "10.77.16"; (f.Campaign == 1) != in {
			t.Errorf("%s: campaign %d", f.Src, f.Campaign)
		}
	}
	// A fourth source on d1's targets at the same time is not part of
	// the campaign, which stays whole.
	res.Episodes = append(res.Episodes, same)
	got = Assess(res, nil, nil)
	if len(got.Campaigns) != 1 || len(got.Campaigns[0].Members) != 3 {
		t.Fatalf("with overlapping targets: %+v", got.Campaigns)
	}
	for _, f := range got.Findings {
		if f.Src == same.Src && f.Campaign != 0 {
			t.Fatalf("the same-targets scanner joined campaign %d", f.Campaign)
		}
	}
}

// TestCampaignsScale: 20,000 scanners of one port in one /16, half of them
// hitting the same ten hosts (each of those opens a campaign of its own),
// are grouped with each tried against at most maxOpen campaigns, not
// against the 10,000 others.
func TestCampaignsScale(t *testing.T) {
	scan := []analyze.Kind{analyze.HostScan}
	var eps []episode.Episode
	for i := range 20000 {
		e := ep(fmt.Sprintf("100.%d.%d.%d", i/65536, i/256%256, i%256), int64(i), int64(i)+60_000, scan, []string{"dscan"}, nil)
		if i%2 == 0 {
			e.Sample = sample("10.77.0", 10)
		} else {
			e.Sample = []netip.Addr{netip.AddrFrom4([4]byte{10, 77, byte(1 + i/256%200), byte(i % 256)})}
		}
		eps = append(eps, e)
	}
	got := Assess(&episode.Result{Episodes: eps}, nil, nil)
	members := 0
	for _, c := range got.Campaigns {
		members += len(c.Members)
		if c.Network.Bits() < 16 {
			t.Fatalf("campaign over %s", c.Network)
		}
	}
	if len(got.Campaigns) == 0 || members < 10000 {
		t.Fatalf("%d campaigns, %d members", len(got.Campaigns), members)
	}
}

// The reason says what answered a scan: the targets that sent an answer
// back, and the share of TCP flows without ACK unless a SYN scan's
// answers make that share (always about 100 %) meaningless.
func TestReasonSaysWhatAnswered(t *testing.T) {
	for _, c := range []struct {
		name            string
		kind            analyze.Kind
		targets, ports  int
		tcp, noAck      uint64
		replied, probes int
		want            string
	}{
		{"syn sweep answered", analyze.HostScan, 1024, 1, 1024, 1024, 3, 3, "contacted 1024 hosts on tcp/445 over 1m0s, 3 hosts answered: a host scan"},
		{"syn sweep unanswered", analyze.HostScan, 1024, 1, 1024, 1024, 0, 0, "contacted 1024 hosts on tcp/445 over 1m0s, 100 % of its TCP flows unanswered: a host scan"},
		{"connect scan", analyze.PortScan, 4, 300, 1200, 1100, 2, 5, "probed 300 ports on 4 hosts over 1m0s, 92 % of its TCP flows unanswered, 5 ports answered on 2 hosts: a port scan"},
		{"udp vertical", "vertical-scan", 1, 24, 0, 0, 1, 1, "probed 24 ports of 10.0.8.12 over 1m0s, 1 port answered: a vertical scan"},
	} {
		e := ep("192.0.2.9", 0, 60_000, []analyze.Kind{c.kind}, []string{"x"}, nil)
		e.Targets, e.Ports, e.TCPFlows, e.NoAckFlows, e.Replied, e.RepliedProbes = c.targets, c.ports, c.tcp, c.noAck, c.replied, c.probes
		e.Sample = []netip.Addr{a("10.0.8.12")}
		if got := reason(&e, false); !strings.HasSuffix(got, c.want) {
			t.Errorf("%s: reason %q\nwant it to end %q", c.name, got, c.want)
		}
	}
}
