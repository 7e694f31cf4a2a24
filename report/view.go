package report

import (
	"fmt"
	"strconv"
	"strings"
)

// Limits bound what the formats meant for people (HTML, Markdown, the
// mail) show, so that their size does not grow with the archive: each
// list of rows and each list in a cell is cut and says how many more
// there are. CSV and JSON are never cut.
type Limits struct {
	Rows      int // rows of a findings, flows or inputs table
	Cell      int // items of a list in one cell
	FollowUps int // scanners given follow-up commands
	Talkers   int // rows of a top-talker table
}

var (
	// HTMLLimits keep report.html near 1 MB at most (TestSizeBounded).
	HTMLLimits = Limits{Rows: 100, Cell: 10, FollowUps: 20, Talkers: 50}
	// TextLimits keep report.md near 100 kB at most.
	TextLimits = Limits{Rows: 20, Cell: 5, FollowUps: 10, Talkers: 10}
	// MailLimits keep the whole mail (text and HTML part) near 100 kB:
	// it is read on a phone, and the full report is a file away.
	MailLimits = Limits{Rows: 10, Cell: 5, FollowUps: 5, Talkers: 5}
)

// backgroundTop is how many background sources are listed by name.
const backgroundTop = 20

// Headline is the report in one sentence: what was found, by class, and
// what was read.
func (m *Model) Headline() string {
	var cl [4]int
	for i := range m.Scanners {
		cl[classOrder[classOf(&m.Scanners[i])]]++
	}
	var parts []string
	add := func(n int, one, many string) {
		if n == 1 {
			parts = append(parts, "1 "+one)
		} else {
			parts = append(parts, Commas(n)+" "+many)
		}
	}
	add(cl[0], "local host scanning", "local hosts scanning")
	add(cl[1], "outside scan answered", "outside scans answered")
	add(cl[2], "other finding", "other findings")
	if k := m.ServiceEpisodes(); k > 0 {
		// Service-like episodes are always "other": say how many of them.
		parts[len(parts)-1] += fmt.Sprintf(" (%s %s like service)", Commas(k), map[bool]string{true: "looks", false: "look"}[k == 1])
	}
	if m.Background.Episodes > 0 {
		parts = append(parts, fmt.Sprintf("background radiation from %s sources", Commas(m.Background.Sources)))
	}
	add(len(m.Excessive), "excessive flow", "excessive flows")
	s := strings.Join(parts, ", ") + fmt.Sprintf("; %s flows read from %s files", Commas(m.Inputs.Flows), Commas(m.Inputs.FilesRead))
	if m.Inputs.Partial {
		s += " (PARTIAL: some input was skipped, see Inputs skipped)"
	}
	return s
}

// Subject is the default mail subject: the window and what an operator
// acts on first, short enough for a phone's list of mails.
func (m *Model) Subject() string {
	var cl [4]int
	for i := range m.Scanners {
		cl[classOrder[classOf(&m.Scanners[i])]]++
	}
	s := fmt.Sprintf("flowsift %s .. %s: %s local scanning, %s answered outside scans, %s other",
		m.Window.From, m.Window.To, Commas(cl[0]), Commas(cl[1]), Commas(cl[2]))
	if m.Background.Sources > 0 {
		s += fmt.Sprintf(", %s background sources", Commas(m.Background.Sources))
	}
	if m.Inputs.Partial {
		s += " (PARTIAL)"
	}
	return s
}

var classTitles = []struct{ class, name, title, note string }{
	{ClassLocal, "local", "Local hosts that scan",
		"Sources inside the local networks that a detector flagged: the usual sign of an infected or misused machine. In each section: by severity, then confidence, then local targets, targets and flows."},
	{ClassAnswered, "answered", "Outside scans that got answers",
		"Outside sources that scanned and reached a service: some of their TCP connections were answered (flows with ACK), or some targets sent answers back to their probes (a SYN-ACK to a SYN scan, a UDP or ICMP echo reply), while most probes failed; or the assessment rates them high (password guessing)."},
	{ClassOther, "other", "Other findings",
		"Episodes of neither kind above nor background radiation: episodes that look like service or that a host's role explains (held back), outside sources most of whose connections were answered (busy clients a detector flagged), outside targets, sources when no --local was given, episodes built from finding evidence only (such as a host blamed for traffic it received)."},
}

// scannerColumns are the columns of a findings table in HTML and
// Markdown; rules, top_ports and sample_targets go under the row in HTML.
// Kept narrow for a mail window: bytes are in the CSV, and an episode
// that looks like service says so in its kind.
var scannerColumns = []string{"rank", "src", "kind", "severity", "detectors", "first_seen", "last_seen", "flows",
	"targets", "local_targets", "ports", "tcp_flags", "reason", "rules", "top_ports", "sample_targets"}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func (l Limits) scannerRow(s Scanner) []string {
	var rules []string
	for _, r := range s.Rules {
		rules = append(rules, fmt.Sprintf("%s %s: %s (%s, threshold %s)", r.Detector, r.Kind, r.Rule, f(r.Value), f(r.Threshold)))
	}
	kind := s.Kind
	if s.Service {
		kind += " (looks like service)"
	}
	return []string{n(s.Rank), s.Src, kind, s.Severity, strings.Join(s.Detectors, " "), s.First, s.Last, u(s.Flows),
		n(s.Targets), n(s.LocalTargets), n(s.Ports), s.Flags, s.Reason, capList(rules, l.Cell, "; "), capList(s.TopPorts, l.Cell, ", "),
		capList(s.Sample, l.Cell, ", ")}
}

// more is the note under a cut table.
func more(total, shown int, where string) string {
	if total <= shown {
		return ""
	}
	return fmt.Sprintf("Showing %s of %s; all are in %s.", Commas(shown), Commas(total), where)
}

func joinNotes(a ...string) string {
	var out []string
	for _, s := range a {
		if s != "" {
			out = append(out, s)
		}
	}
	return strings.Join(out, " ")
}

// View is the report for people, in reading order: findings first,
// ranked (local hosts that scan, outside scans that got answers, the
// rest), background radiation as one section, then excessive flows,
// targets, suppress suggestions, top talkers, follow-up commands, and at
// the end the inputs and the settings. Every table and every list in a
// cell is cut to l.
func (m *Model) View(l Limits) []Table {
	var out []Table
	var follow []Scanner
	for _, c := range classTitles {
		rows := m.Ranked(c.class)
		t := Table{Name: c.name, Title: c.title, Columns: scannerColumns}
		for i, s := range rows {
			if i == l.Rows {
				break
			}
			t.Rows = append(t.Rows, l.scannerRow(s))
		}
		t.Note = joinNotes(c.note, more(len(rows), len(t.Rows), "csv/scanners.csv and report.json"))
		if c.class == ClassOther && m.ServiceEpisodes() > 0 {
			t.Note += fmt.Sprintf(" %s episodes look like service (marked so in their kind; looks_like_service = yes in the CSV): their hosts are suggested for the suppress list.", Commas(m.ServiceEpisodes()))
		}
		out = append(out, t)
		follow = append(follow, rows...)
	}
	out = append(out, m.backgroundTable(l))
	out = append(out, m.campaignTable(l), m.rolesTable(l))

	out = append(out, m.excessiveTable(l))

	out = append(out, m.targetTables(l)...)

	out = append(out, m.suppressTable(l))

	out = append(out, m.talkerTables(l)...)

	fu := Table{Name: "followup", Title: "Follow-up commands", Columns: []string{"src", "flow_tools", "nfdump", "flowsift", "filter_file"}}
	for i, s := range follow {
		if i == l.FollowUps {
			break
		}
		fu.Rows = append(fu.Rows, []string{s.Src, s.FlowTools, s.Nfdump, s.FollowUpCmd, s.FilterFile})
		fu.Scanners = append(fu.Scanners, s)
	}
	fu.Note = joinNotes("Pull each scanner's flows from the same archive, in the ranked order above.",
		more(len(follow), len(fu.Rows), "csv/followup.csv"))
	out = append(out, fu)

	src := m.SourcesTable()
	src.Note = joinNotes(src.Note, more(len(src.Rows), shown(len(src.Rows), l.Rows), "csv/sources.csv"))
	src.Rows = src.Rows[:shown(len(src.Rows), l.Rows)]
	out = append(out, src)
	sk := m.skippedTable(l.Rows)
	sk.Note = more(len(m.Inputs.Skipped), sk.NumRows(), "csv/skipped.csv")
	out = append(out, sk)

	sum := m.SummaryTable()
	sum.Title = "Summary and settings"
	for _, r := range sum.Rows {
		if r[0] == "inputs" {
			r[1] = capList(m.Inputs.Paths, l.Cell, " ")
		}
	}
	out = append(out, sum)
	// The renderers read Rows: a View without a cut (l.Rows < 0) makes
	// the rows the CSV would make on demand.
	for i := range out {
		materialise(&out[i])
	}
	return out
}

// The tables below serve both the forms for people (View, cut by l) and
// the CSV files (Tables, with allRows): the CSV form keeps ports and
// protocols as numbers and lists whole, space-separated.

// full says whether l cuts nothing: the CSV files' limits.
func (l Limits) full() bool { return l.Rows < 0 }

// shown is how many of total items a cut of k leaves (k < 0: all).
func shown(total, k int) int {
	if k < 0 {
		return total
	}
	return min(total, k)
}

func (m *Model) excessiveTable(l Limits) Table {
	ex := Table{Name: "excessive", Title: "Excessive flows", Columns: []string{"kind", "rule", "value", "threshold", "start", "end", "src", "src_port", "dst", "dst_port", "proto", "packets", "bytes"}}
	ex.put(len(m.Excessive), l.Rows, func(i int) []string {
		x := m.Excessive[i]
		dport, proto := n(int(x.DstPort)), n(int(x.Proto))
		if !l.full() {
			proto = protoLabel(x.Proto)
			if x.Proto == 1 || x.Proto == 58 {
				dport = ICMPName(x.Proto, x.DstPort)
			}
		}
		return []string{x.Kind, x.Rule, f(x.Value), f(x.Threshold), x.Start, x.End, x.Src, n(int(x.SrcPort)), x.Dst, dport, proto, u(x.Packets), u(x.Bytes)}
	})
	ex.Note = more(len(m.Excessive), ex.NumRows(), "csv/excessive.csv")
	return ex
}

func (m *Model) targetTables(l Limits) []Table {
	sep := ", "
	if l.full() {
		sep = " "
	}
	var out []Table
	for _, tg := range []struct {
		name, title string
		rows        []Target
	}{{"target_hosts", "Most scanned hosts", m.TargetHosts}, {"target_ports", "Most scanned ports", m.TargetPorts}} {
		t := Table{Name: tg.name, Title: tg.title, Columns: []string{"target", "episodes", "flows", "scanners"}}
		// The CSV keeps the port number in target, for scripts, and
		// names ICMP types in a column of their own.
		named := l.full() && tg.name == "target_ports"
		if named {
			t.Columns = append(t.Columns, "name")
		}
		if len(m.Suppress) > 0 {
			t.Note = fmt.Sprintf("Over the scanner episodes, less those of the %d hosts suggested for the suppress list (they look like servers answering clients).", len(m.Suppress))
		}
		rows := tg.rows
		t.put(len(rows), l.Rows, func(i int) []string {
			r := &rows[i]
			if named {
				return []string{r.Target, n(r.Episodes), u(r.Flows), capList(r.Scanners, l.Cell, sep), r.Name}
			}
			return []string{portLabel(r.Target, r.Name, r.Flows, r.ICMPFlows), n(r.Episodes), u(r.Flows), capList(r.Scanners, l.Cell, sep)}
		})
		t.Note = joinNotes(t.Note, more(len(rows), t.NumRows(), "csv/"+tg.name+".csv"))
		out = append(out, t)
	}
	return out
}

func (m *Model) suppressTable(l Limits) Table {
	sp := Table{Name: "suppress", Title: "Suggested suppress-list entries", Columns: []string{"file", "line", "evidence"}}
	sp.put(len(m.Suppress), l.Rows, func(i int) []string {
		s := m.Suppress[i]
		return []string{s.File, s.Line, s.Comment}
	})
	sp.Note = joinNotes("Hosts whose many peers look like service, not scanning. Paste the lines into the file named (BASE.src or BASE.dst).",
		more(len(m.Suppress), sp.NumRows(), "csv/suppress.csv"))
	return sp
}

func (m *Model) talkerTables(l Limits) []Table {
	var out []Table
	for _, tk := range m.Talkers {
		t := Table{Name: "talkers_" + tk.Key + "_" + tk.Order, Title: fmt.Sprintf("Top %s by %s (%s distinct)", tk.Key, tk.Order, Commas(tk.Distinct)),
			Columns: []string{tk.Key, "flows", "packets", "bytes"}}
		// As in the most scanned ports: the CSV keeps the number (it
		// equals nfdump's) and adds the ICMP name; people see the name.
		named := l.full() && (tk.Key == "dstport" || tk.Key == "port")
		if named {
			t.Columns = append(t.Columns, "name")
		}
		rows := tk.Rows
		t.put(len(rows), l.Talkers, func(i int) []string {
			r := &rows[i]
			if named {
				return []string{r.Key, u(r.Flows), u(r.Packets), u(r.Bytes), r.Name}
			}
			return []string{portLabel(r.Key, r.Name, r.Flows, r.ICMPFlows), u(r.Flows), u(r.Packets), u(r.Bytes)}
		})
		t.Note = more(len(rows), t.NumRows(), "csv/"+t.Name+".csv")
		out = append(out, t)
	}
	return out
}

func protoLabel(p uint8) string {
	switch p {
	case 1, 6, 17, 58:
		return strconv.Itoa(int(p)) + " (" + protoWord(p) + ")"
	}
	return strconv.Itoa(int(p))
}

func protoWord(p uint8) string {
	return map[uint8]string{1: "icmp", 6: "tcp", 17: "udp", 58: "ipv6-icmp"}[p]
}

func plural(k int, word string) string {
	if k == 1 {
		return "1 " + word
	}
	return Commas(k) + " " + word + "s"
}

// backgroundTable is the background radiation section: the aggregate in
// the note, the busiest sources as rows.
func (m *Model) backgroundTable(l Limits) Table {
	b := m.Background
	t := Table{Name: "background", Title: "Background radiation",
		Columns: []string{"src", "first_seen", "last_seen", "flows", "local_targets", "ports", "top_ports"}}
	if b.Episodes == 0 {
		t.Note = "Outside sources that only sent unanswered probes into the local networks are summed up here; there were none."
		if len(m.Scanners) > 0 && m.Scanners[0].Origin == "" {
			t.Note = "Needs the local networks (--local or the policy's local) to tell background radiation from the rest."
		}
		return t
	}
	var ports []string
	for _, p := range b.Ports {
		ports = append(ports, fmt.Sprintf("%s (%s)", p.Port, plural(p.Sources, "source")))
	}
	rows := m.Ranked(ClassBackground)
	t.Note = fmt.Sprintf("%s outside sources (%s episodes, %s flows) only sent probes into the local networks that nothing shows an answer to (no TCP flow with ACK, no UDP or ICMP echo reply from a target), to %s local targets in all. Ports: %s. The %d busiest sources are listed; every one is in csv/scanners.csv (class background).",
		Commas(b.Sources), Commas(b.Episodes), Commas(b.Flows), Commas(b.Targets), capList(ports, l.Cell, ", "), min(backgroundTop, len(rows)))
	for i, s := range rows {
		if i == backgroundTop {
			t.Rows = append(t.Rows, []string{fmt.Sprintf("... and %s more", Commas(len(rows)-backgroundTop)), "", "", "", "", "", ""})
			break
		}
		t.Rows = append(t.Rows, []string{s.Src, s.First, s.Last, u(s.Flows), n(s.LocalTargets), n(s.Ports), capList(s.TopPorts, l.Cell, ", ")})
	}
	return t
}
