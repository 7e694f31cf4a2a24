package eval

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flowsift/flowsift/analyze/assess"
	"github.com/flowsift/flowsift/internal/fixture"
	"github.com/flowsift/flowsift/pass"
)

var labDir = flag.String("lab", "", "evaluate this tools/lab-capture.sh output directory instead of testdata/lab (its table is printed, not compared)")

// scenario is one activity of the lab (tools/lab-capture.sh) with the
// source that did it; the ground truth is the script's timeline and the
// pcap summary beside the capture.
type scenario struct {
	id, what string
	src      string
	attack   bool   // a scan or an attack: must be found and counted
	role     string // a benign host's expected role ("" = any or none); must not count
	v6       bool   // only in the NetFlow v9 export
}

var labScenarios = []scenario{
	{"S1", "nmap -sS -p1-1023, one host", "10.77.1.66", true, "", false},
	{"S2", "nmap -sS -p22 sweep of a /22", "10.77.2.99", true, "", false},
	{"S3", "nmap -sT -p1-300 (connect), one host", "10.77.3.33", true, "", false},
	{"S4", "nmap -sU, 24 ports of one host", "10.77.4.44", true, "", false},
	{"S5", "nmap -sS -T1, 22 ports of one host over ~6 min (slow vertical)", "10.77.5.55", true, "", false},
	{"S6", "nmap -sn -PE ping sweep of a /24 (ICMP)", "10.77.6.66", true, "", false},
	{"S7", "120 sshpass logins to one SSH server, then a long session", "10.77.7.77", true, "", false},
	{"S8a", "distributed scan, tcp/445, 10.77.9.0/24", "10.77.13.13", true, "", false},
	{"S8b", "distributed scan, tcp/445, 10.77.10.0/24", "10.77.14.14", true, "", false},
	{"S8c", "distributed scan, tcp/445, 10.77.11.0/24", "10.77.15.15", true, "", false},
	{"S9", "nmap -6 -sS -p1-300 and -sU, IPv6", "fd77:1::88", true, "", true},
	{"B1", "web and SSH server (http.server, sshd)", "10.77.8.10", false, "", false},
	{"B2", "DNS server (dnsmasq), POP3, SMTP", "10.77.8.11", false, "", false},
	{"B3", "file server (http.server 8000, upload sink)", "10.77.8.12", false, "", false},
	{"B4", "NTP server (chronyd)", "10.77.8.13", false, "", false},
	{"B5", "mail relay: SMTP to ~45 MX hosts", "10.77.20.30", false, "", false},
	{"B6", "P2P client: ~78 peers on 6881-6889", "10.77.20.31", false, "", false},
	{"B7", "monitoring host: 3 SSH banner checks, 14 TCP checks, 4 pings every 30 s", "10.77.20.32", false, "", false},
	{"B8", "web/DNS clients (curl, wget, dig), bulk transfers", "10.77.20.21-28", false, "", false},
	{"B9", "NTP clients", "10.77.20.40-47", false, "", false},
}

// labLocal is the lab's inside: the server /22 and the clients' /24.
var labLocal = []netip.Prefix{netip.MustParsePrefix("10.77.8.0/22"), netip.MustParsePrefix("10.77.20.0/24"),
	netip.MustParsePrefix("fd77:8::/64")}

func srcsOf(s string) []netip.Addr {
	if lo, hi, ok := strings.Cut(s, "-"); ok {
		a := netip.MustParseAddr(lo)
		var out []netip.Addr
		for ; ; a = a.Next() {
			out = append(out, a)
			if a.As4()[3] >= byte(atoi(hi)) {
				return out
			}
		}
	}
	return []netip.Addr{netip.MustParseAddr(s)}
}

func atoi(s string) int {
	n := 0
	fmt.Sscan(s, &n)
	return n
}

// labRun is one input of the lab through the report's pass.
func labRun(t *testing.T, path string) *pass.Result {
	t.Helper()
	cfg := pass.DefaultConfiguration()
	cfg.Local = labLocal
	cfg.Jobs = 2
	res, err := pass.RunReport(context.Background(), cfg, pass.Inputs{Paths: []string{path}})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return res
}

// labTable scores one input: per scenario, found or not, by what, how
// soon, counted or held back; then precision and recall per source.
func labTable(name string, res *pass.Result, v6 bool) (string, []string) {
	var b strings.Builder
	var problems []string
	byFinding := map[netip.Addr][]assess.Finding{}
	eps := res.Episodes.Episodes
	for _, f := range res.Assessment.Findings {
		byFinding[f.Src] = append(byFinding[f.Src], f)
	}
	fmt.Fprintf(&b, "%s: %d flows, %d episodes, %d counted findings, %d campaigns\n\n", name, res.Summary.Flows, len(eps),
		res.Assessment.Counted(), len(res.Assessment.Campaigns))
	fmt.Fprintf(&b, "| id | scenario | source | found | counted | severity | detectors (kinds) | first alert after | reason or role |\n|---|---|---|---|---|---|---|---|---|\n")
	known := map[netip.Addr]bool{}
	tp, fn := 0, 0
	for _, sc := range labScenarios {
		if sc.v6 && !v6 {
			continue
		}
		var found, counted bool
		var sev, dets, after, why []string
		for _, a := range srcsOf(sc.src) {
			known[a] = true
			for _, f := range byFinding[a] {
				found = true
				counted = counted || !f.HeldBack
				ep := &eps[f.Episode]
				sev = append(sev, f.Severity)
				var ds []string
				first := int64(1 << 62)
				for _, r := range ep.Rules {
					ds = append(ds, fmt.Sprintf("%s (%s)", r.Detector, r.Kind))
					first = min(first, r.First)
				}
				dets = append(dets, strings.Join(ds, ", "))
				after = append(after, fmt.Sprintf("%.0f s", float64(max(first-ep.First, 0))/1000))
				w := f.Reason
				if f.Role != "" && !strings.Contains(w, f.Role) {
					w += " [role " + f.Role + "]"
				}
				why = append(why, w)
			}
			for _, r := range res.Assessment.Roles {
				if r.Addr == a && !found {
					why = append(why, "role: "+r.Why())
				}
			}
		}
		if sc.attack {
			if found && counted {
				tp++
			} else {
				fn++
				problems = append(problems, fmt.Sprintf("%s %s (%s): not found or held back", name, sc.id, sc.src))
			}
		} else if counted {
			problems = append(problems, fmt.Sprintf("%s %s (%s): a benign host counts as a finding", name, sc.id, sc.src))
		}
		yn := func(v bool) string {
			if v {
				return "yes"
			}
			return "no"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", sc.id, sc.what, sc.src, yn(found), yn(counted),
			strings.Join(uniq(sev), ", "), strings.Join(uniq(dets), "; "), strings.Join(uniq(after), ", "), strings.Join(uniq(why), "; "))
	}
	// Counted findings against hosts no scenario names are false
	// positives too (a reply host of the lab blamed by a detector).
	fp := 0
	var others []string
	for _, f := range res.Assessment.Findings {
		if !f.HeldBack && !known[f.Src] {
			fp++
			others = append(others, fmt.Sprintf("%s (%s: %s)", f.Src, f.Severity, f.Reason))
		}
	}
	for _, sc := range labScenarios {
		if sc.attack || (sc.v6 && !v6) {
			continue
		}
		for _, a := range srcsOf(sc.src) {
			for _, f := range byFinding[a] {
				if !f.HeldBack {
					fp++
					break
				}
			}
		}
	}
	slices.Sort(others)
	for _, o := range others {
		problems = append(problems, name+": counted finding against a host of no scenario: "+o)
	}
	fmt.Fprintf(&b, "\nrecall %d/%d = %.2f, precision %d/%d = %.2f (per source; a finding held back by a role does not count)\n",
		tp, tp+fn, ratio(tp, tp+fn), tp, tp+fp, ratio(tp, tp+fp))
	for _, c := range res.Assessment.Campaigns {
		var ms []string
		for _, m := range c.Members {
			ms = append(ms, fmt.Sprintf("%s (%d targets %s-%s)", m.Src, m.Targets, m.Low, m.High))
		}
		fmt.Fprintf(&b, "\ncampaign %d: proto %d port %d over %s: %s\n", c.ID, c.Proto, c.Port, c.Network, strings.Join(ms, ", "))
	}
	return b.String(), problems
}

func uniq(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

// TestLabCaptures runs the report's pass over real captures of the lab
// (testdata/lab: nmap, sshpass, servers and clients through softflowd
// into flow-capture and nfcapd) and checks the targets: every
// scan and the password guessing found and counted, no benign host
// counted. The table is testdata/lab-table.md (go test -update rewrites
// it).
func TestLabCaptures(t *testing.T) {
	if testing.Short() {
		t.Skip("reads the lab captures through the whole pass")
	}
	dir := *labDir
	if dir == "" {
		dir = fixture.Path(t, "lab")
	}
	inputs := []struct {
		name, path string
		v6         bool
	}{
		{"flow-capture tree (NetFlow v5, live softflowd)", filepath.Join(dir, "ft"), false},
		{"nfcapd files (NetFlow v9 with IPv6, live softflowd)", filepath.Join(dir, "nfcapd-v9"), true},
	}
	var all strings.Builder
	for _, in := range inputs {
		res := labRun(t, in.path)
		tab, problems := labTable(in.name, res, in.v6)
		all.WriteString(tab + "\n")
		for _, p := range problems {
			t.Error(p)
		}
	}
	if *labDir != "" {
		fmt.Print(all.String())
		return
	}
	checkGolden(t, filepath.Join("testdata", "lab-table.md"), all.String())
}
