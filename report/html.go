package report

import (
	"fmt"
	"html/template"
	"io"

	"github.com/flowsift/flowsift/templates"
)

var htmlTmpl = template.Must(template.ParseFS(templates.FS, "report.html.tmpl"))

type bar struct {
	X, Y, W, H, TextY int
	Label             string
	Value             uint64
}

type htmlView struct {
	M           *Model
	Tables      []Table
	ChartW      int
	Activity    []bar
	ActivityMax int
	TalkerBars  []bar
	TalkerH     int
}

// HTML writes one self-contained page: inline CSS and SVG, no script, no
// external resource; html/template escapes every value.
func HTML(w io.Writer, m *Model) error {
	v := htmlView{M: m, Tables: m.Tables(), ChartW: 960}
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
