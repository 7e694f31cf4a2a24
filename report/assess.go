package report

import (
	"fmt"
	"strconv"

	"github.com/flowsift/flowsift/analyze/assess"
	"github.com/flowsift/flowsift/analyze/episode"
)

// Campaign is a group of scans that share a port, overlap in time and
// cover disjoint parts of one network (package assess): one campaign
// from several sources.
type Campaign struct {
	ID      int              `json:"id"`
	Port    string           `json:"port"`    // "tcp/445"
	Network string           `json:"network"` // the smallest prefix holding the members' sampled targets
	First   string           `json:"first_seen"`
	Last    string           `json:"last_seen"`
	Members []CampaignMember `json:"members"`
}

// CampaignMember is one source of a campaign.
type CampaignMember struct {
	Src     string `json:"src"`
	Targets int    `json:"targets"`
	Range   string `json:"sample_range"` // lowest and highest of its sampled targets
	First   string `json:"first_seen"`
	Last    string `json:"last_seen"`
}

// HostRole is a role inferred for a busy host from its own flows (package
// roles), with the figures that decided it.
type HostRole struct {
	Addr      string `json:"addr"`
	Role      string `json:"role"`
	Figures   string `json:"figures"`    // "peers 40 (>= 10), ..."
	ScanSigns string `json:"scan_signs"` // "" when none
}

// fromAssessment fills what the assessment adds beyond each episode's
// severity and reason: the role figures of each scanner, the campaigns
// and the roles of the busy hosts.
func (m *Model) fromAssessment(a *assess.Result) {
	if a == nil {
		return
	}
	for _, f := range a.Findings {
		if f.Episode >= 0 && f.Episode < len(m.Scanners) {
			m.Scanners[f.Episode].RoleWhy = f.RoleWhy
		}
	}
	for _, c := range a.Campaigns {
		port := episode.ProtoName(c.Proto) + "/" + strconv.Itoa(int(c.Port))
		if c.Proto == 1 || c.Proto == 58 {
			port = portName(c.Proto, c.Port) // a ping sweep's campaign: "icmp/echo-request"
		}
		mc := Campaign{ID: c.ID, Port: port, Network: c.Network.String(),
			First: utc(c.First), Last: utc(c.Last)}
		for _, x := range c.Members {
			mc.Members = append(mc.Members, CampaignMember{Src: x.Src.String(), Targets: x.Targets, Range: x.Low.String() + " - " + x.High.String(),
				First: utc(x.First), Last: utc(x.Last)})
		}
		m.Campaigns = append(m.Campaigns, mc)
	}
	for _, r := range a.Roles {
		h := HostRole{Addr: r.Addr.String(), Role: r.Role, Figures: r.Why()}
		for i, s := range r.ScanFigs {
			if i > 0 {
				h.ScanSigns += ", "
			}
			h.ScanSigns += s.String()
		}
		m.Roles = append(m.Roles, h)
	}
}

// Counted is how many scanner episodes count for --fail-on-findings: all
// but those held back because the host's role explains them.
func (m *Model) Counted() int {
	k := 0
	for _, s := range m.Scanners {
		if !s.HeldBack {
			k++
		}
	}
	return k
}

// allRows cuts nothing: the CSV files hold every row.
var allRows = Limits{Rows: -1, Cell: -1, FollowUps: -1, Talkers: -1}

func (m *Model) campaignTable(l Limits) Table {
	t := Table{Name: "campaigns", Title: "Campaigns", Columns: []string{"campaign", "port", "network", "first_seen", "last_seen", "sources", "members"},
		Note: "Scans from several sources at one port, at the same time, on disjoint parts of one network: likely one actor. Members: source, targets, sampled target range."}
	t.put(len(m.Campaigns), l.Rows, func(i int) []string {
		c := &m.Campaigns[i]
		var ms []string
		for _, x := range c.Members {
			ms = append(ms, fmt.Sprintf("%s (%s targets, %s)", x.Src, Commas(x.Targets), x.Range))
		}
		return []string{n(c.ID), c.Port, c.Network, c.First, c.Last, n(len(c.Members)), capList(ms, l.Cell, "; ")}
	})
	t.Note = joinNotes(t.Note, more(len(m.Campaigns), t.NumRows(), "report.json"))
	return t
}

func (m *Model) rolesTable(l Limits) Table {
	t := Table{Name: "host_roles", Title: "Host roles", Columns: []string{"addr", "role", "figures", "scan_signs"},
		Note: "What busy hosts are, from their own flows. A finding against a host whose role explains it and that shows no scan signs is held back: listed, but not counted for --fail-on-findings."}
	t.put(len(m.Roles), l.Rows, func(i int) []string {
		r := &m.Roles[i]
		return []string{r.Addr, r.Role, r.Figures, r.ScanSigns}
	})
	t.Note = joinNotes(t.Note, more(len(m.Roles), t.NumRows(), "report.json"))
	return t
}
