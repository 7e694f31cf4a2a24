package report

import (
	"bytes"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/analyze/assess"
	"github.com/flowsift/flowsift/analyze/episode"
	"github.com/flowsift/flowsift/analyze/roles"
)

// assessed is a run with a DNS server whose episode its role holds back,
// and a campaign of three tcp/445 scanners over one /22.
func assessed(withScans bool) Input {
	mk := func(src string, first int64, sample string) episode.Episode {
		return episode.Episode{Src: netip.MustParseAddr(src), First: first, Last: first + 60_000, Kinds: []analyze.Kind{analyze.HostScan},
			Detectors: []string{"dscan"}, Flows: 256, TCPFlows: 256, NoAckFlows: 256, Targets: 256, Ports: 1,
			TopPorts: []episode.PortCount{{Port: 445, Proto: 6, Flows: 256}},
			Sample:   []netip.Addr{netip.MustParseAddr(sample + ".1"), netip.MustParseAddr(sample + ".10")},
			Rules:    []episode.DetectorRule{{Detector: "dscan", Kind: analyze.HostScan, Rule: "destinations >= D", Threshold: 200, Value: 256}}}
	}
	dns := mk("10.77.8.11", 0, "10.77.20")
	dns.TopPorts = []episode.PortCount{{Port: 40000, Proto: 17, Flows: 3}}
	res := &episode.Result{Episodes: []episode.Episode{dns}}
	if withScans {
		res.Episodes = append(res.Episodes, mk("10.77.13.13", 1000, "10.77.9"), mk("10.77.14.14", 2000, "10.77.10"), mk("10.77.15.15", 3000, "10.77.11"))
	}
	rs := []roles.Role{{Addr: netip.MustParseAddr("10.77.8.11"), Role: roles.DNS, Detail: "answers from udp/53",
		Figures: []roles.Figure{{Name: "peers", Value: 40, Threshold: 10}}}}
	return Input{Version: "test", GeneratedAt: time.Unix(0, 0), Result: res, Assessment: assess.Assess(res, rs, nil)}
}

func TestHeldBackDoesNotCount(t *testing.T) {
	m := Build(assessed(false))
	if len(m.Scanners) != 1 || !m.Scanners[0].HeldBack || m.Findings() {
		t.Fatalf("a held-back episode counts: %+v, Findings %v", m.Scanners, m.Findings())
	}
	if m.Scanners[0].RoleWhy != "dns server (answers from udp/53): peers 40 (>= 10)" {
		t.Fatalf("role figures %q", m.Scanners[0].RoleWhy)
	}
	if m := Build(assessed(true)); !m.Findings() || m.Counted() != 3 {
		t.Fatalf("scans not counted: %d", m.Counted())
	}
}

func TestCampaignsAndRolesShown(t *testing.T) {
	m := Build(assessed(true))
	if len(m.Campaigns) != 1 || len(m.Campaigns[0].Members) != 3 || m.Campaigns[0].Network != "10.77.8.0/22" || m.Campaigns[0].Port != "tcp/445" {
		t.Fatalf("campaigns %+v", m.Campaigns)
	}
	var b bytes.Buffer
	if err := Markdown(&b, m); err != nil {
		t.Fatal(err)
	}
	// Cells are padded to the column width: compare without padding.
	md := regexp.MustCompile(` *\| *`).ReplaceAllString(b.String(), " | ")
	for _, want := range []string{
		"## Campaigns",
		" | 1 | tcp/445 | 10.77.8.0/22 | 1970-01-01T00:00:01.000Z | 1970-01-01T00:01:03.000Z | 3 | ",
		"10.77.13.13 (256 targets, 10.77.9.1 - 10.77.9.10); 10.77.14.14 (256 targets, 10.77.10.1 - 10.77.10.10); 10.77.15.15",
		"## Host roles",
		" | 10.77.8.11 | dns server | dns server (answers from udp/53): peers 40 (>= 10) | ",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(b.String())
	}
	// The CSV files have them too, uncut.
	var csvs []string
	for _, tb := range m.Tables() {
		if tb.Name == "campaigns" || tb.Name == "host_roles" {
			csvs = append(csvs, fmt.Sprintf("%s %d", tb.Name, len(tb.Rows)))
		}
	}
	if strings.Join(csvs, ",") != "campaigns 1,host_roles 1" {
		t.Errorf("CSV tables %v", csvs)
	}
}
