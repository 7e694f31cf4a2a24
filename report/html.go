package report

import (
	"fmt"
	"html/template"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flowsift/flowsift/templates"
)

var (
	htmlTmpl = template.Must(template.ParseFS(templates.FS, "report.html.tmpl"))
	mailTmpl = template.Must(template.ParseFS(templates.FS, "mail.html.tmpl"))
)

// MailHTML writes the HTML part of the mail: the View cut to MailLimits,
// every style inline (mail clients drop <style> blocks), no SVG (most
// do not draw it) and no external resource.
func MailHTML(w io.Writer, m *Model) error {
	return mailTmpl.Execute(w, htmlView{M: m, Tables: htmlTables(m.View(MailLimits))})
}

// Commands are the episode's follow-up command lines.
func (s Scanner) Commands() []string {
	var out []string
	for _, c := range []string{s.FlowTools, s.Nfdump, s.FollowUpCmd} {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}

type bar struct {
	X, Y, W, H, TextY int
	Name, Label, Kind string
	Value             uint64
}

// cell is a table cell with the CSS class that lays it out: numbers right
// aligned, times and addresses unbroken, lists given room to flow.
type cell struct {
	Text, Class string
}

type htmlTable struct {
	Name, Title, Note string
	Header            []cell
	Rows              []htmlRow
	Scanners          []Scanner // a follow-up section's episodes
}

// htmlRow is a table row; Detail holds the long list columns of a wide
// table, shown under the row across its width (labelled), so the table
// fits a mail window instead of scrolling sideways.
type htmlRow struct {
	Cells  []cell
	Detail []cell // Text = label, Class = value
	Span   int
}

// detailCols are the columns that go under a table's row in HTML.
var detailCols = map[string][]string{
	"local":      {"reason", "rules", "top_ports", "sample_targets"},
	"answered":   {"reason", "rules", "top_ports", "sample_targets"},
	"other":      {"reason", "rules", "top_ports", "sample_targets"},
	"background": {"top_ports"},
}

type badge struct {
	Text string
	Warn bool
}

type htmlView struct {
	M           *Model
	Badges      []badge
	Tables      []htmlTable
	ChartW      int
	Activity    []bar
	ActivityMax int
	Timeline    []bar
	TimelineH   int
	TimelineCut int // episodes left out of the timeline
	TalkerBars  []bar
	TalkerH     int
}

// timelineRows caps the episode timeline so the chart stays a chart.
const timelineRows = 40

// colClass names the layout of a column by its (stable) name.
func colClass(col string) string {
	switch col {
	case "first_seen", "last_seen", "start", "end", "src", "dst", "target", "tcp_flags", "file", "reason", "first_flow_end", "last_flow_end":
		return "nw"
	case "rules", "top_ports", "sample_targets", "scanners", "evidence", "detail":
		return "list"
	case "kind":
		return "kind"
	}
	return ""
}

// numeric: every cell of column i is a number (a summary's "value"
// column is not, an excessive flow's is).
func numeric(rows [][]string, i int) bool {
	k := 0
	for _, r := range rows {
		if r[i] == "" {
			continue // the "... and N more" row of a cut table
		}
		if _, err := strconv.ParseFloat(r[i], 64); err != nil {
			return false
		}
		k++
	}
	return k > 0
}

func htmlTables(ts []Table) []htmlTable {
	var out []htmlTable
	for _, t := range ts {
		ht := htmlTable{Name: t.Name, Title: t.Title, Note: t.Note, Scanners: t.Scanners}
		cls := make([]string, len(t.Columns))
		under := make([]bool, len(t.Columns))
		for i, c := range t.Columns {
			if under[i] = slices.Contains(detailCols[t.Name], c); under[i] {
				continue
			}
			cls[i] = colClass(c)
			if numeric(t.Rows, i) {
				cls[i] = "num"
			}
			ht.Header = append(ht.Header, cell{c, cls[i]})
		}
		for _, r := range t.Rows {
			row := htmlRow{Span: len(ht.Header)}
			for i, v := range r {
				switch {
				case under[i] && v != "":
					row.Detail = append(row.Detail, cell{strings.ReplaceAll(t.Columns[i], "_", " "), v})
				case !under[i]:
					c := cls[i]
					if t.Name == "sources" && t.Columns[i] == "note" && v != "" {
						c = "warn" // a path that stopped before the others
					}
					// Keep "tcp/22 (300)" and "SRC (first..last)" on one line.
					row.Cells = append(row.Cells, cell{strings.ReplaceAll(v, " (", "\u00a0("), c})
				}
			}
			ht.Rows = append(ht.Rows, row)
		}
		out = append(out, ht)
	}
	return out
}

func parseMS(s string) (int64, bool) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, false
	}
	return t.UnixMilli(), true
}

// HTML writes one self-contained page: inline CSS and SVG, no script, no
// external resource; html/template escapes every value.
func HTML(w io.Writer, m *Model) error {
	v := htmlView{M: m, Tables: htmlTables(m.View(HTMLLimits)), ChartW: 960}
	for _, b := range m.Activity {
		v.ActivityMax = max(v.ActivityMax, b.Scanners)
	}
	if len(m.Activity) > 0 {
		bw := v.ChartW / len(m.Activity)
		for i, b := range m.Activity {
			h := 0
			if v.ActivityMax > 0 {
				h = b.Scanners * 100 / v.ActivityMax
			}
			v.Activity = append(v.Activity, bar{X: i * bw, Y: 120 - h, W: bw - 1, H: h, Label: fmt.Sprintf("%s: %d", b.Start, b.Scanners)})
		}
	}
	v.timeline(m)
	for _, c := range classTitles {
		if k := len(m.Ranked(c.class)); k > 0 {
			v.Badges = append(v.Badges, badge{Commas(k) + " " + strings.ToLower(c.title), c.class == ClassLocal})
		}
		if k := m.ServiceEpisodes(); c.class == ClassOther && k > 0 {
			v.Badges = append(v.Badges, badge{Commas(k) + " of them look like service", false})
		}
	}
	if b := m.Background; b.Episodes > 0 {
		v.Badges = append(v.Badges, badge{"background radiation: " + Commas(b.Sources) + " sources", false})
	}
	for _, t := range m.Talkers {
		if t.Key != "srcip" || t.Order != "bytes" || len(t.Rows) == 0 {
			continue
		}
		top := t.Rows[:min(10, len(t.Rows))]
		maxv := top[0].Bytes
		for i, r := range top {
			wd := 1
			if maxv > 0 {
				wd = max(int(r.Bytes*uint64(v.ChartW-170)/maxv), 1)
			}
			v.TalkerBars = append(v.TalkerBars, bar{Y: i * 18, W: wd, H: 14, TextY: i*18 + 11, Label: r.Key, Value: r.Bytes})
		}
		v.TalkerH = len(top) * 18
	}
	return htmlTmpl.Execute(w, v)
}

// timeline lays out one bar per scanner episode from first to last seen
// over the activity window, so a reader sees who scanned when: the
// findings in rank order, background radiation left out.
func (v *htmlView) timeline(m *Model) {
	var ranked []Scanner
	for _, c := range classTitles {
		ranked = append(ranked, m.Ranked(c.class)...)
	}
	if len(m.Activity) == 0 || len(ranked) == 0 {
		return
	}
	lo, ok1 := parseMS(m.Activity[0].Start)
	hi := lo
	for _, s := range ranked {
		if t, ok := parseMS(s.Last); ok {
			hi = max(hi, t)
		}
	}
	if !ok1 || hi <= lo {
		return
	}
	const labelW, rowH = 170, 16
	span := hi - lo
	plotW := int64(v.ChartW - labelW)
	for i, s := range ranked {
		if i == timelineRows {
			v.TimelineCut = len(ranked) - timelineRows
			break
		}
		a, okA := parseMS(s.First)
		b, okB := parseMS(s.Last)
		if !okA || !okB {
			continue
		}
		x := labelW + int((max(a, lo)-lo)*plotW/span)
		wd := max(int((b-max(a, lo))*plotW/span), 2)
		kind, label := "host", s.Kind
		switch {
		case s.Service:
			kind, label = "service", s.Kind+" (looks like service)"
		case strings.HasPrefix(s.Kind, "port"):
			kind = "port"
		case strings.HasPrefix(s.Kind, "both"):
			kind = "both"
		case !strings.HasPrefix(s.Kind, "host"):
			kind = "other"
		}
		y := len(v.Timeline) * rowH
		v.Timeline = append(v.Timeline, bar{X: x, Y: y + 2, W: wd, H: rowH - 4, TextY: y + 12, Kind: kind, Name: s.Src,
			Label: s.Src + " " + label + " " + s.First + " .. " + s.Last + " (" + strconv.FormatUint(s.Flows, 10) + " flows)"})
	}
	v.TimelineH = len(v.Timeline) * rowH
}
