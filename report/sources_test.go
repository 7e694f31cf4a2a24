package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// routers is a six-hour report over three routers' trees: rtr-a exports
// to the end, rtr-b stops at 03:10:07, 2 h 50 min before rtr-a, and rtr-c
// gives nothing.
func routers(t *testing.T) Input {
	t.Helper()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip(err)
	}
	at := func(h, m, s int) int64 { return time.Date(2026, 11, 20, h, m, s, 0, time.UTC).UnixMilli() }
	return Input{Version: "test", GeneratedAt: time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC), Zone: berlin,
		From: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 20, 6, 0, 0, 0, time.UTC),
		FirstFlow: at(0, 0, 0), LastFlow: at(6, 0, 7), Paths: []string{"/flows/rtr-a", "/flows/rtr-b", "/flows/rtr-c"},
		Sources: []InputSource{
			{Path: "/flows/rtr-a", Files: 72, Flows: 2_000_000, First: at(0, 0, 1), Last: at(6, 0, 7)},
			{Path: "/flows/rtr-b", Files: 39, Skipped: 2, Flows: 1_234_567, First: at(0, 0, 2), Last: at(3, 10, 7)},
			{Path: "/flows/rtr-c", Files: 0, Skipped: 1},
		},
		FilesSeen: 112, FilesRead: 111, Flows: 3_234_567}
}

// TestStoppedRouterMarked: a router that stopped exporting is marked in
// its row of the inputs table (every format), at the head of the Markdown
// (the mail's text) and of the HTML page, and in the JSON.
func TestStoppedRouterMarked(t *testing.T) {
	m := Build(routers(t))
	const stopped = "stopped 2 h 50 min before the others"
	src := m.Inputs.Sources
	if len(src) != 3 || src[0].Note != "" || src[0].BehindMS != 0 || src[1].Note != stopped || src[1].BehindMS != (2*time.Hour+50*time.Minute).Milliseconds() ||
		src[2].Note != "no flows" || src[2].FirstEnd != "" || src[2].LastEnd != "" {
		t.Fatalf("sources: %+v", src)
	}
	if src[1].FirstEnd != "2026-11-20T00:00:02.000Z" || src[1].LastEnd != "2026-11-20T03:10:07.000Z" ||
		src[1].FirstEndLocal != "2026-11-20T01:00:02.000+01:00" || src[1].LastEndLocal != "2026-11-20T04:10:07.000+01:00" {
		t.Fatalf("rtr-b times: %+v", src[1])
	}

	tables := m.Tables()
	if tables[1].Name != "sources" {
		t.Fatalf("the inputs table is not second: %s", tables[1].Name)
	}
	want := [][]string{
		{"/flows/rtr-a", "72", "2000000", "0", "2026-11-20T00:00:01.000Z", "2026-11-20T06:00:07.000Z", ""},
		{"/flows/rtr-b", "39", "1234567", "2", "2026-11-20T00:00:02.000Z", "2026-11-20T03:10:07.000Z", stopped},
		{"/flows/rtr-c", "0", "0", "1", "", "", "no flows"},
	}
	if got := tables[1].Rows; !equalRows(got, want) {
		t.Errorf("sources rows:\n%q\nwant\n%q", got, want)
	}
	if !strings.Contains(tables[1].Note, "at least 5 min, at most 1 h") {
		t.Errorf("sources note does not give the rule: %q", tables[1].Note)
	}

	var csvOut bytes.Buffer
	if err := CSV(&csvOut, tables[1]); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(csvOut.String(), "/flows/rtr-b,39,1234567,2,2026-11-20T00:00:02.000Z,2026-11-20T03:10:07.000Z,"+stopped+"\n") {
		t.Errorf("sources.csv:\n%s", csvOut.String())
	}

	var md bytes.Buffer
	if err := Markdown(&md, m); err != nil {
		t.Fatal(err)
	}
	head := strings.SplitN(md.String(), "\n## ", 2)[0]
	for _, w := range []string{
		"**Warning:** input /flows/rtr-b " + stopped + " (last flow end 2026-11-20T03:10:07.000Z, 2026-11-20T04:10:07.000+01:00).\n",
		"**Warning:** input /flows/rtr-c gave no flows.\n",
	} {
		if !strings.Contains(head, w) {
			t.Errorf("Markdown head lacks %q:\n%s", w, head)
		}
	}
	if strings.Contains(head, "rtr-a") {
		t.Errorf("Markdown head warns about the router that ran:\n%s", head)
	}
	if !strings.Contains(md.String(), "## Inputs by path") || !strings.Contains(md.String(), "| "+stopped+" |") {
		t.Errorf("Markdown has no inputs table with the note:\n%s", md.String())
	}

	var h bytes.Buffer
	if err := HTML(&h, m); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{`<span class="badge warn">input /flows/rtr-b ` + stopped, `<h2 id="sources">Inputs by path</h2>`,
		`<td class="warn">` + stopped + `</td>`, `<td class="nw">2026-11-20T03:10:07.000Z</td>`, `<td class="num">1234567</td>`} {
		if !strings.Contains(h.String(), w) {
			t.Errorf("HTML lacks %q", w)
		}
	}

	var j bytes.Buffer
	if err := JSON(&j, m); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Inputs struct {
			Sources []map[string]any `json:"sources"`
		} `json:"inputs"`
	}
	if err := json.Unmarshal(j.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if s := doc.Inputs.Sources; len(s) != 3 || s[1]["path"] != "/flows/rtr-b" || s[1]["note"] != stopped || s[1]["behind_ms"] != float64(10200000) ||
		s[1]["last_flow_end_local"] != "2026-11-20T04:10:07.000+01:00" || s[2]["first_flow_end"] != "" {
		t.Errorf("JSON inputs.sources: %v", s)
	}
}

// TestStoppedRouterBound: within a tenth of the window nothing is marked;
// one path is listed (one row) and never marked nor warned about.
func TestStoppedRouterBound(t *testing.T) {
	in := routers(t)
	in.Sources = in.Sources[:2]
	// 30 min behind in a 6-hour window (bound 36 min).
	in.Sources[1].Last = time.Date(2026, 11, 20, 5, 30, 7, 0, time.UTC).UnixMilli()
	m := Build(in)
	if m.Inputs.Sources[1].Note != "" || m.Inputs.Sources[1].BehindMS != (30*time.Minute).Milliseconds() || len(m.SourceWarnings()) != 0 {
		t.Errorf("30 min behind in 6 h: %+v %q", m.Inputs.Sources[1], m.SourceWarnings())
	}
	// 40 min behind: marked.
	in.Sources[1].Last = time.Date(2026, 11, 20, 5, 20, 7, 0, time.UTC).UnixMilli()
	if m := Build(in); m.Inputs.Sources[1].Note != "stopped 40 min before the others" {
		t.Errorf("40 min behind in 6 h: %+v", m.Inputs.Sources[1])
	}

	in.Sources = in.Sources[1:2]
	m = Build(in)
	tb := m.SourcesTable()
	if len(tb.Rows) != 1 || tb.Rows[0][6] != "" || len(m.SourceWarnings()) != 0 || strings.Contains(tb.Note, "others") {
		t.Errorf("one path: rows %q, warnings %q, note %q", tb.Rows, m.SourceWarnings(), tb.Note)
	}
	var md bytes.Buffer
	Markdown(&md, m)
	if strings.Contains(md.String(), "Warning") {
		t.Errorf("one path warned about:\n%s", md.String())
	}
}

func equalRows(a, b [][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if strings.Join(a[i], "\x00") != strings.Join(b[i], "\x00") || len(a[i]) != len(b[i]) {
			return false
		}
	}
	return true
}
