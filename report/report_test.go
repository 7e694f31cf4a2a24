package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"mime"
	"net/mail"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowsift/flowsift/internal/fixture"
)

const hostile = `<script>alert("x")</script> a|b "q", c`

// handModel is a small model with a hostile string in cells of several
// sections, built without any detector.
func handModel() *Model {
	return &Model{
		Tool: "flowsift", Version: "test", GeneratedAt: "2026-11-22T06:00:00Z",
		Window: Window{From: "2026-11-20T00:00:00Z", To: "2026-11-20T06:00:00Z", FromLocal: "2026-11-20T01:00:00+01:00", ToLocal: "2026-11-20T07:00:00+01:00", Zone: "Europe/Berlin"},
		Inputs: Inputs{Paths: []string{"/data/" + hostile}, FilesSeen: 3, FilesRead: 2, Flows: 1234, BadRows: 1, Partial: true, Skipped: []Skip{{Path: "/data/x.csv", Offset: -1, Line: 7, Reason: "bad-row", Count: 1, Detail: hostile}},
			Sources: []Source{{Path: "/data/" + hostile, Files: 2, Flows: 1234, Skipped: 1, FirstEnd: "2026-11-20T00:00:00.500Z", LastEnd: "2026-11-20T06:00:00.000Z",
				FirstEndLocal: "2026-11-20T01:00:00.500+01:00", LastEndLocal: "2026-11-20T07:00:00.000+01:00"}}},
		Settings:  []Setting{{Name: "dscan depth (-D)", Value: "200"}},
		Detectors: []string{"dscan"},
		Scanners: []Scanner{{Src: "203.0.113.45", Kind: "host scan", Detectors: []string{"dscan"},
			Rules: []Rule{{Detector: "dscan", Kind: "host-scan", Rule: "destinations >= D", Threshold: 200, Value: 201, Count: 1}},
			First: "2026-11-20T00:43:12.000Z", Last: "2026-11-20T00:43:21.867Z", Flows: 300, Packets: 300, Bytes: 13200, Targets: 300, LocalTargets: 300, Ports: 1,
			TopPorts: []string{"tcp/22 (300)"}, Sample: []string{"10.20.2.1"}, Flags: "fSrpauxy",
			FlowTools: "flow-cat /data | flow-nfilter -f f -F scanner | flow-print", FilterFile: "filter-primitive scanner\n  type ip-address\n  permit 203.0.113.45\n", Nfdump: "nfdump -R /data 'src ip 203.0.113.45'"}},
		TargetHosts: []Target{{Target: "10.20.2.1", Episodes: 1, Flows: 1, Scanners: []string{"203.0.113.45 (a..b)"}}},
		Talkers:     []Talkers{{Key: "srcip", Order: "bytes", Distinct: 2, Rows: []TalkerRow{{Key: "10.0.0.1", Flows: 5, Packets: 50, Bytes: 5000}, {Key: hostile, Flows: 1, Packets: 2, Bytes: 30}}}},
		Excessive:   []Excess{{Kind: "excessive-octets", Rule: "octets > O", Threshold: 1e9, Value: 2e9, Start: "s", End: "e", Src: "10.0.0.1", SrcPort: 1, Dst: "10.0.0.2", DstPort: 2, Proto: 6, Packets: 9, Bytes: 2e9}},
		Suppress:    []Suppress{{File: "src", Line: "10.20.1.53 17 53 -", Comment: hostile}},
		Activity:    []Bucket{{Start: "2026-11-20T00:00:00.000Z", Scanners: 0}, {Start: "2026-11-20T03:00:00.000Z", Scanners: 1}},
	}
}

func TestHTMLEscapesAndIsSelfContained(t *testing.T) {
	var b bytes.Buffer
	if err := HTML(&b, handModel()); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if strings.Contains(page, "<script") {
		t.Fatal("hostile <script> reached the page unescaped")
	}
	if !strings.Contains(page, "&lt;script&gt;") {
		t.Fatal("hostile string missing (escaped form not found)")
	}
	for _, bad := range []string{"<link", "<img", "@import", "url(", "src=", "href="} {
		if strings.Contains(page, bad) {
			t.Errorf("page refers to an external resource: %q", bad)
		}
	}
	for _, want := range []string{"<style>", "<svg", `<h2 id="other">Other findings</h2>`, `<td class="nw">203.0.113.45</td>`, "Suggested suppress-list entries", "Follow-up commands", "Findings over the window", `<td class="num">300</td>`, "permit 203.0.113.45"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestMarkdownEscapesPipesAndKeepsHeaderCase(t *testing.T) {
	var b bytes.Buffer
	if err := Markdown(&b, handModel()); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	if !strings.Contains(md, `a\|b`) || strings.Contains(md, "a|b") {
		t.Fatalf("| in a cell not escaped:\n%s", md)
	}
	if !strings.Contains(md, " first_seen ") || strings.Contains(md, "FIRST SEEN") {
		t.Fatal("header case changed by tablewriter")
	}
	// Every row of a table has as many unescaped | as its header.
	want, blocks := -1, 0
	for _, l := range strings.Split(md, "\n") {
		if !strings.HasPrefix(l, "|") {
			want = -1
			continue
		}
		if want < 0 {
			want = pipes(l)
			blocks++
			continue
		}
		if pipes(l) != want {
			t.Errorf("row %q has %d cell separators, header %d", l, pipes(l), want)
		}
	}
	if blocks < 5 {
		t.Errorf("only %d tables in the Markdown", blocks)
	}
	if !strings.Contains(md, "```\nflow-cat /data") {
		t.Error("follow-up commands not in code blocks")
	}
}

// TestServiceEpisodesMarked: an episode whose host is suggested for the
// suppress list is marked where an operator first reads it: the headline,
// the scanners table (every format) and the JSON.
func TestServiceEpisodesMarked(t *testing.T) {
	m := handModel()
	srv := m.Scanners[0]
	srv.Src, srv.Service = "10.20.1.53", true
	m.Scanners = append(m.Scanners, srv)

	var md bytes.Buffer
	if err := Markdown(&md, m); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "0 local hosts scanning, 0 outside scans answered, 2 other findings (1 looks like service), ") {
		t.Errorf("Markdown headline does not count the service episode:\n%.300s", md.String())
	}
	var sc Table
	for _, tb := range m.Tables() {
		if tb.Name == "scanners" {
			sc = tb
		}
	}
	col := slices.Index(sc.Columns, "looks_like_service")
	if col < 0 || len(sc.Rows) != 2 || sc.Rows[0][col] != "no" || sc.Rows[1][col] != "yes" {
		t.Fatalf("scanners table: columns %v, rows %v", sc.Columns, sc.Rows)
	}
	if !strings.Contains(sc.Note, "1 of the 2 episodes look like service") {
		t.Errorf("scanners note: %q", sc.Note)
	}
	var h bytes.Buffer
	if err := HTML(&h, m); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(h.String(), `<span class="badge">1 of them look like service</span>`) {
		t.Error("HTML has no service badge")
	}
	// The timeline draws the server's bar grey, with its legend entry.
	if !strings.Contains(h.String(), `fill="#8c959f"><title>10.20.1.53 host scan (looks like service)`) ||
		!strings.Contains(h.String(), `looks like service</p>`) {
		t.Error("HTML timeline does not set the service episode apart")
	}
	var j bytes.Buffer
	if err := JSON(&j, m); err != nil {
		t.Fatal(err)
	}
	var back Model
	if err := json.Unmarshal(j.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Scanners[0].Service || !back.Scanners[1].Service {
		t.Errorf("JSON looks_like_service: %v %v", back.Scanners[0].Service, back.Scanners[1].Service)
	}

	// Without service episodes the headline and the badge say nothing.
	md.Reset()
	h.Reset()
	if err := Markdown(&md, handModel()); err != nil {
		t.Fatal(err)
	}
	if err := HTML(&h, handModel()); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(md.String(), "of them look like service") || strings.Contains(h.String(), "of them look like service") || strings.Contains(md.String(), "looks_like_service = yes") {
		t.Error("service wording without service episodes")
	}
}

func pipes(s string) int {
	return strings.Count(s, "|") - strings.Count(s, `\|`)
}

func TestCSVQuotingRoundTrip(t *testing.T) {
	m := handModel()
	for _, tb := range m.Tables() {
		var b bytes.Buffer
		if err := CSV(&b, tb); err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(&b).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", tb.Name, err)
		}
		if !reflect.DeepEqual(recs[0], tb.Columns) {
			t.Fatalf("%s: header %v", tb.Name, recs[0])
		}
		if len(recs)-1 != len(tb.Rows) {
			t.Fatalf("%s: %d rows, want %d", tb.Name, len(recs)-1, len(tb.Rows))
		}
		for i, r := range tb.Rows {
			if !reflect.DeepEqual(recs[i+1], r) {
				t.Errorf("%s row %d: %q, want %q", tb.Name, i, recs[i+1], r)
			}
		}
	}
}

// The CSV column names are an interface: scripts read them.
func TestCSVColumnsStable(t *testing.T) {
	want := map[string]string{
		"summary":             "item,value",
		"skipped":             "path,offset,line,reason,count,detail",
		"sources":             "path,files,flows,skipped,first_flow_end,last_flow_end,note",
		"scanners":            "src,kind,looks_like_service,detectors,rules,first_seen,last_seen,flows,packets,bytes,targets,local_targets,ports,top_ports,sample_targets,tcp_flags,origin,answered,class,rank,severity,confidence,reason,role,held_back,campaign,replied_targets,replied_probes",
		"target_hosts":        "target,episodes,flows,scanners",
		"target_ports":        "target,episodes,flows,scanners,name",
		"talkers_srcip_bytes": "srcip,flows,packets,bytes",
		"excessive":           "kind,rule,value,threshold,start,end,src,src_port,dst,dst_port,proto,packets,bytes",
		"suppress":            "file,line,evidence",
		"followup":            "src,flow_tools,nfdump,filter_file,flowsift",
		"background_ports":    "port,sources,flows",
		"campaigns":           "campaign,port,network,first_seen,last_seen,sources,members",
		"host_roles":          "addr,role,figures,scan_signs",
	}
	got := map[string]string{}
	for _, tb := range handModel().Tables() {
		got[tb.Name] = strings.Join(tb.Columns, ",")
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("columns changed:\n%v\nwant\n%v", got, want)
	}
}

func TestJSONRoundTripAndEmptyLists(t *testing.T) {
	m := handModel()
	var b bytes.Buffer
	if err := JSON(&b, m); err != nil {
		t.Fatal(err)
	}
	var back Model
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, withEmptyLists(m)) {
		t.Fatalf("round trip changed the model:\n%+v\n%+v", back, *m)
	}
	var again bytes.Buffer
	JSON(&again, &back)
	if !bytes.Equal(again.Bytes(), b.Bytes()) {
		t.Fatal("JSON not stable through a round trip")
	}
	// An empty report has [] (not null) for every list, so consumers can
	// iterate without checks.
	var e bytes.Buffer
	if err := JSON(&e, Build(Input{Version: "test", GeneratedAt: time.Unix(0, 0)})); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(e.Bytes(), []byte("null")) {
		t.Fatalf("empty report has null lists:\n%s", e.String())
	}
}

func TestMailStructure(t *testing.T) {
	m := handModel()
	var b bytes.Buffer
	if err := Mail(&b, m, "flowsift@example.org", "noc@example.org", "scans \u00e9t\u00e9"); err != nil {
		t.Fatal(err)
	}
	raw := b.String()
	msg, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	dec := new(mime.WordDecoder)
	subj, _ := dec.DecodeHeader(msg.Header.Get("Subject"))
	if subj != "scans \u00e9t\u00e9" || msg.Header.Get("From") != "flowsift@example.org" || msg.Header.Get("To") != "noc@example.org" || msg.Header.Get("MIME-Version") != "1.0" {
		t.Fatalf("headers: %v", msg.Header)
	}
	if d, err := msg.Header.Date(); err != nil || !d.Equal(time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)) {
		t.Fatalf("Date %v %v", d, err)
	}
	_, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	var md, html bytes.Buffer
	Text(&md, m)
	MailHTML(&html, m)
	var got [][]byte
	var types []string
	for _, p := range fixture.MailParts(t, msg) {
		got = append(got, p.Body)
		types = append(types, p.Type)
	}
	if len(got) != 2 || !strings.HasPrefix(types[0], "text/plain") || !strings.HasPrefix(types[1], "text/html") {
		t.Fatalf("parts %v", types)
	}
	// Text parts travel in canonical form, CRLF line ends.
	crlf := func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")) }
	if !bytes.Equal(got[0], crlf(md.Bytes())) || !bytes.Equal(got[1], crlf(html.Bytes())) {
		t.Fatal("parts differ from the Text and MailHTML renderings")
	}
	for _, l := range strings.Split(raw, "\r\n") {
		if len(l) > 998 {
			t.Fatalf("line longer than RFC 5322 allows: %d", len(l))
		}
	}
	var again bytes.Buffer
	Mail(&again, m, "flowsift@example.org", "noc@example.org", "scans \u00e9t\u00e9")
	if again.String() != raw {
		t.Fatal("same model, different message")
	}
	m.Scanners[0].Flows++
	var other bytes.Buffer
	Mail(&other, m, "flowsift@example.org", "noc@example.org", "x")
	_, p2, _ := mime.ParseMediaType(strings.SplitN(strings.SplitN(other.String(), "Content-Type: ", 2)[1], "\r\n", 2)[0])
	if p2["boundary"] == params["boundary"] {
		t.Fatal("boundary does not depend on the content")
	}
}

func TestMailRejectsHeaderInjection(t *testing.T) {
	for _, c := range [][3]string{
		{"flowsift@example.org", "noc@example.org\r\nBcc: evil@example.com", "s"},
		{"flowsift@example.org\nX: y", "noc@example.org", "s"},
		{"flowsift@example.org", "", "s"},
		{"flowsift", "noc@example.org", "s"}, // no address
		{"a@b, c@d", "noc@example.org", "s"}, // one sender only
	} {
		if err := Mail(io.Discard, handModel(), c[0], c[1], c[2]); err == nil {
			t.Errorf("Mail(%q, %q) accepted", c[0], c[1])
		}
	}
	// A newline in the subject is encoded, not a new header.
	var b bytes.Buffer
	if err := Mail(&b, handModel(), "flowsift@example.org", "noc@example.org", "a\r\nBcc: evil@example.com"); err != nil {
		t.Fatal(err)
	}
	msg, _ := mail.ReadMessage(&b)
	if msg.Header.Get("Bcc") != "" {
		t.Fatal("subject injected a header")
	}
}

func TestBuildSortsAndCountsBadRows(t *testing.T) {
	m := Build(Input{Version: "v", GeneratedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Zone: time.FixedZone("X", 3600),
		FirstFlow: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli(), LastFlow: time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC).UnixMilli()})
	if m.GeneratedAt != "2026-01-02T03:04:05Z" || m.Window.From != "2026-01-01T00:00:00Z" || m.Window.FromLocal != "2026-01-01T01:00:00+01:00" || m.Window.Zone != "X" {
		t.Fatalf("%+v %+v", m.GeneratedAt, m.Window)
	}
}

func TestValueFormatting(t *testing.T) {
	for v, want := range map[float64]string{256.0000000000002: "256", 1e9: "1000000000", 0.5: "0.5", 2.0 / 3: "0.6667", 0: "0", 99: "99"} {
		if got := f(v); got != want {
			t.Errorf("f(%v) = %q, want %q", v, got, want)
		}
	}
}
