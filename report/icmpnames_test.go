package report

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/flowsift/flowsift/analyze/assess"
	"github.com/flowsift/flowsift/analyze/episode"
	"github.com/flowsift/flowsift/analyze/talkers"
)

// Ports that count every protocol under their number show the ICMP type
// they stand for: alone when every flow was ICMP, after the number when
// some were; the CSV keeps the number and names the type in a column of
// its own, and the JSON carries the name.
func TestICMPPortsNamedEverywhere(t *testing.T) {
	in := Input{
		Result: &episode.Result{TargetPorts: []episode.Target{
			{Port: 2048, Episodes: 3, Flows: 300, ICMPFlows: 300},
			{Port: 0, Episodes: 2, Flows: 90, ICMPFlows: 40},
			{Port: 32768, Episodes: 1, Flows: 7, ICMPv6Flows: 7},
			{Port: 22, Episodes: 1, Flows: 5},
		}},
		Tables: []talkers.Table{
			{Key: talkers.DstPort, Order: talkers.ByFlows, Distinct: 2, Rows: []talkers.Row{
				{Port: 2048, Counts: talkers.Counts{Flows: 10, Packets: 10, Bytes: 840}, ICMPFlows: 4},
				{Port: 771, Counts: talkers.Counts{Flows: 3, Packets: 3, Bytes: 168}, ICMPFlows: 3},
			}},
			{Key: talkers.SrcPort, Order: talkers.ByFlows, Distinct: 1, Rows: []talkers.Row{
				{Port: 2048, Counts: talkers.Counts{Flows: 2, Packets: 2, Bytes: 80}},
			}},
		},
	}
	m := Build(in)
	cells := func(ts []Table, name string) [][]string {
		for _, tb := range ts {
			if tb.Name == name {
				return tb.Rows
			}
		}
		t.Fatalf("no table %s", name)
		return nil
	}
	view := m.View(HTMLLimits)
	got := []string{}
	for _, r := range cells(view, "target_ports") {
		got = append(got, r[0])
	}
	want := []string{"icmp/echo-request", "0, icmp/echo-reply (40 of 90 flows)", "ipv6-icmp/echo-request", "22"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("most scanned ports for people:\n got %q\nwant %q", got, want)
	}
	tk := cells(view, "talkers_dstport_flows")
	if tk[0][0] != "2048, icmp/echo-request (4 of 10 flows)" || tk[1][0] != "icmp/dest-unreach/port-unreach" {
		t.Errorf("top dstport for people: %q, %q", tk[0][0], tk[1][0])
	}
	if sp := cells(view, "talkers_srcport_flows"); sp[0][0] != "2048" {
		t.Errorf("srcport 2048 is no ICMP type (ICMP's type is in the destination port): %q", sp[0][0])
	}

	csv := m.Tables()
	if r := cells(csv, "target_ports")[0]; r[0] != "2048" || r[len(r)-1] != "icmp/echo-request" {
		t.Errorf("target_ports.csv row %q: want the number first and the name last", r)
	}
	if r := cells(csv, "talkers_dstport_flows")[0]; r[0] != "2048" || r[4] != "icmp/echo-request (4 of 10 flows)" {
		t.Errorf("talkers_dstport_flows.csv row %q", r)
	}
	if r := cells(csv, "talkers_srcport_flows")[0]; len(r) != 4 {
		t.Errorf("talkers_srcport_flows.csv has no name column, got %q", r)
	}

	js, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"target":"2048","episodes":3,"flows":300,"scanners":null,"name":"icmp/echo-request","icmp_flows":300`,
		`"key":"771","flows":3,"packets":3,"bytes":168,"name":"icmp/dest-unreach/port-unreach","icmp_flows":3`} {
		if !strings.Contains(string(js), s) {
			t.Errorf("JSON lacks %s", s)
		}
	}
}

// A campaign of ping sweeps names its port as the ICMP type.
func TestICMPCampaignNamed(t *testing.T) {
	in := assessed(true)
	for i := range in.Result.Episodes {
		in.Result.Episodes[i].TopPorts = []episode.PortCount{{Port: 8 << 8, Proto: 1, Flows: 256}}
	}
	in.Assessment = assess.Assess(in.Result, nil, nil)
	m := Build(in)
	if len(m.Campaigns) != 1 || m.Campaigns[0].Port != "icmp/echo-request" {
		t.Fatalf("campaigns %+v", m.Campaigns)
	}
}
