package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"image/png"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/flowsift/flowsift/internal/fixture"
)

var update = flag.Bool("update", false, "rewrite golden files")

// reportDir runs `flowsift report --out DIR` and returns every file written.
func reportDir(t *testing.T, args ...string) map[string][]byte {
	t.Helper()
	dir := t.TempDir()
	full := append([]string{"report", "--generated-at", "2026-11-22T06:00:00Z", "--out", dir}, args...)
	code, _, stderr := runCLI(t, "", full...)
	if code != 0 {
		t.Fatalf("report %v: exit %d: %s", args, code, stderr)
	}
	// The set is published as DIR/current; DIR/report.html etc. are links
	// into it, and must show the same bytes.
	set, err := filepath.EvalSymlinks(filepath.Join(dir, "current"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	filepath.WalkDir(set, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(set, p)
			files[rel], _ = os.ReadFile(p)
			if top, _ := os.ReadFile(filepath.Join(dir, rel)); !bytes.Equal(top, files[rel]) {
				t.Errorf("%s: the link in --out does not show the published set's file", rel)
			}
		}
		return err
	})
	return files
}

func compareGolden(t *testing.T, name string, files map[string][]byte) {
	t.Helper()
	gold := filepath.Join("testdata", "report", name)
	if *update {
		os.RemoveAll(gold)
		for rel, b := range files {
			p := filepath.Join(gold, rel)
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	var want []string
	filepath.WalkDir(gold, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(gold, p)
			want = append(want, rel)
		}
		return err
	})
	var got []string
	for rel := range files {
		got = append(got, rel)
	}
	sort.Strings(got)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("files written:\n%v\ngolden:\n%v\n(run go test ./cmd/flowsift -run Report -update after checking the change)", got, want)
	}
	for _, rel := range want {
		w, _ := os.ReadFile(filepath.Join(gold, rel))
		if !bytes.Equal(files[rel], w) {
			t.Errorf("%s differs from %s:\n%s", rel, filepath.Join(gold, rel), firstDiff(string(files[rel]), string(w)))
		}
	}
}

var sampleLocal = "--local=10.20.0.0/16,172.16.8.0/24,192.168.50.0/24"

// Golden report of the bundled sample archive, every format; and the same
// bytes whatever -j.
func TestReportGoldenSamples(t *testing.T) {
	useUTC(t)
	archive := filepath.Join("..", "..", "samples", "archive")
	j1 := reportDir(t, "-j", "1", sampleLocal, archive)
	j2 := reportDir(t, "-j", "2", sampleLocal, archive)
	for rel, b := range j1 {
		if !bytes.Equal(b, j2[rel]) {
			t.Fatalf("%s differs between -j 1 and -j 2", rel)
		}
	}
	compareGolden(t, "samples", j1)
	md := string(j1["report.md"])
	for _, want := range []string{"## Local hosts that scan", "## Background radiation", "| 203.0.113.45 ", "| 192.0.2.77 ", "| 10.20.2.150 ", "## Suggested suppress-list entries", "10.20.1.53 17 53 -", "flow-nfilter", "flow-cat"} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	// nfdump cannot read a flow-tools tree: no nfdump line names it.
	if strings.Contains(md, "nfdump -R") {
		t.Error("report.md offers nfdump -R on a flow-tools tree")
	}
}

// Golden report of the real flow-tools capture tree of the fixtures, with
// a time window and a time zone.
func TestReportGoldenFixtureTree(t *testing.T) {
	td := fixture.FlowTools(t)
	// The report names its inputs: a path relative to this package is the
	// same in every clone (testdata/ is part of the repository), an absolute
	// one is not.
	wd, _ := os.Getwd()
	if rel, err := filepath.Rel(wd, td); err == nil {
		td = rel
	}
	useUTC(t)
	files := reportDir(t, "--tz", "Europe/Berlin", "--from", "2026-11-20 11:00", "--to", "2026-11-20T13:00:00Z", "--local", "10.20.0.0/16,172.16.8.0/24,192.168.50.0/24", filepath.Join(td, "ft-tree"))
	compareGolden(t, "ft-tree", files)
	if !bytes.Contains(files["report.md"], []byte("2026-11-20T11:00:00+01:00")) {
		t.Error("window not shown in --tz")
	}
}

func TestReportMail(t *testing.T) {
	archive := filepath.Join("..", "..", "samples", "archive")
	code, out, stderr := runCLI(t, "", "report", "--generated-at", "2026-11-22T06:00:00Z", "--mail", "--to", "noc@example.org", "--subject", "nightly scan report", archive)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	msg, err := mail.ReadMessage(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if msg.Header.Get("To") != "noc@example.org" || msg.Header.Get("Subject") != "nightly scan report" || msg.Header.Get("Date") != "Sun, 22 Nov 2026 06:00:00 +0000" {
		t.Fatalf("headers %v", msg.Header)
	}
	var types []string
	for _, p := range fixture.MailParts(t, msg) {
		types = append(types, p.Type)
		if !bytes.Contains(p.Body, []byte("203.0.113.45")) {
			t.Errorf("%s part lacks the scanner", p.Type)
		}
	}
	if strings.Join(types, ",") != "text/plain; charset=utf-8,text/html; charset=utf-8" {
		t.Fatalf("parts %v", types)
	}
	_, again, _ := runCLI(t, "", "report", "--generated-at", "2026-11-22T06:00:00Z", "--mail", "--to", "noc@example.org", "--subject", "nightly scan report", archive)
	if again != out {
		t.Fatal("two runs gave different messages")
	}
}

func TestReportExitCodesAndOptions(t *testing.T) {
	archive := filepath.Join("..", "..", "samples", "archive")
	if code, _, _ := runCLI(t, "", "report", "-o", "-", "--format", "json", "--fail-on-findings", archive); code != exitFindings {
		t.Errorf("--fail-on-findings with scanners: exit %d", code)
	}
	for _, bad := range [][]string{
		{"report", "--out", t.TempDir()}, // no input
		{"report", archive},              // no destination
		{"report", "--format", "pdf", "--out", t.TempDir(), archive},
		{"report", "--from", "yesterday", "-o", "-", archive},
		{"report", "--mail", archive}, // no recipient
		{"report", "--mail", "--to", "noc@example.org\nBcc: x@example.com", archive},
		{"report", "--mail", "--to", "noc@example.org", "--mail-from", "a@b\rX: y", archive},
		{"report", "--local", "10.0.0.0/33", "-o", "-", archive},
		{"report", "--detectors", "dscan,snort", "-o", "-", archive},
		{"report", "--format", "csv", "-o", "-", archive},
		{"report", "-o", filepath.Join(t.TempDir(), "r.csv"), archive},
		{"report", "--policy", "/nonexistent/policy.toml", "-o", "-", archive},
	} {
		if code, _, _ := runCLI(t, "", bad...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", bad, code, exitUsage)
		}
	}
	// A truncated file in the input: the report is written, exit 3.
	dir := t.TempDir()
	src := filepath.Join(archive, "2026", "2026-11", "2026-11-20", "ft-v05.2026-11-20.000000+0000")
	b, _ := os.ReadFile(src)
	os.WriteFile(filepath.Join(dir, "ft-v05.2026-11-20.000000+0000"), b[:len(b)/2], 0o644)
	code, out, stderr := runCLI(t, "", "report", "-o", "-", "--format", "md", dir)
	if code != exitPartial || !strings.Contains(out, "truncated") || !strings.Contains(stderr, "ft-v05.2026-11-20.000000+0000: offset") {
		t.Errorf("truncated input: exit %d, stderr %q", code, stderr)
	}
	// An empty day directory (the capture never ran): exit 2 naming it,
	// and no report that would say all was quiet.
	empty, out2 := t.TempDir(), filepath.Join(t.TempDir(), "rep")
	code, _, stderr = runCLI(t, "", "report", "--out", out2, empty)
	if _, err := os.Stat(out2); code != exitUsage || !strings.Contains(stderr, "no input files in "+empty) || err == nil {
		t.Errorf("empty directory: exit %d, stderr %q, report dir: %v", code, stderr, err)
	}
}

// What a person sees: the page renders in headless Chromium with its
// sections and scanner rows, and the screenshot is not blank.
func TestReportHTMLInChromium(t *testing.T) {
	chromium := fixture.NeedProgram(t, "chromium")
	out := filepath.Join(t.TempDir(), "r.html")
	archive := filepath.Join("..", "..", "samples", "archive")
	if code, _, stderr := runCLI(t, "", "report", "--generated-at", "2026-11-22T06:00:00Z", sampleLocal, "-o", out, archive); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--user-data-dir=" + t.TempDir()}
	dom, err := exec.Command(chromium, append(base, "--dump-dom", "file://"+out)...).Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v", err)
	}
	for _, want := range []string{"<h2 id=\"local\">Local hosts that scan</h2>", `<td class="nw">10.20.2.150</td>`, "Findings over the window", "Background radiation", "Top talkers", "Suggested suppress-list entries", "<svg"} {
		if want == "Top talkers" {
			want = "Top srcip by bytes"
		}
		if !bytes.Contains(dom, []byte(want)) {
			t.Errorf("rendered page lacks %q", want)
		}
	}
	shot := filepath.Join(t.TempDir(), "shot.png")
	if err := exec.Command(chromium, append(base, "--screenshot="+shot, "--window-size=1280,2000", "file://"+out)...).Run(); err != nil {
		t.Fatalf("chromium --screenshot: %v", err)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	colors := map[uint32]bool{}
	bnd := img.Bounds()
	for y := bnd.Min.Y; y < bnd.Max.Y; y += 7 {
		for x := bnd.Min.X; x < bnd.Max.X; x += 7 {
			r, g, b, _ := img.At(x, y).RGBA()
			colors[r>>8<<16|g>>8<<8|b>>8] = true
		}
	}
	if len(colors) < 8 {
		t.Fatalf("screenshot looks blank: %d colours", len(colors))
	}
	if *update {
		os.WriteFile(filepath.Join("testdata", "report", "screenshot.png"), mustRead(shot), 0o644)
	}
}

func mustRead(p string) []byte { b, _ := os.ReadFile(p); return b }

// --detectors picks the detectors beside dscan; --policy configures them
// and a bad policy file is refused with the key and line.
func TestReportDetectorsAndPolicy(t *testing.T) {
	archive := filepath.Join("..", "..", "samples", "archive")
	detectorsOf := func(args ...string) map[string]bool {
		t.Helper()
		code, out, stderr := runCLI(t, "", append([]string{"report", "--generated-at", "2026-11-22T06:00:00Z", "-o", "-", "--format", "json"}, append(args, archive)...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		var m struct {
			Detectors []string `json:"detectors"`
			Scanners  []struct {
				Detectors []string `json:"detectors"`
			} `json:"scanners"`
		}
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatal(err)
		}
		fired := map[string]bool{}
		for _, s := range m.Scanners {
			for _, d := range s.Detectors {
				fired[d] = true
			}
		}
		for d := range fired {
			if !slices.Contains(m.Detectors, d) {
				t.Errorf("%v: %s fired but is not listed as run (%v)", args, d, m.Detectors)
			}
		}
		return fired
	}
	if got := detectorsOf("--detectors", "dscan"); len(got) != 1 || !got["dscan"] {
		t.Errorf("--detectors dscan: fired %v", got)
	}
	if got := detectorsOf("--detectors", "trw"); !got["trw"] || got["heuristics"] || got["weighted-ports"] {
		t.Errorf("--detectors trw: fired %v", got)
	}
	all := detectorsOf()
	for _, d := range []string{"dscan", "trw", "heuristics", "weighted-ports"} {
		if !all[d] {
			t.Errorf("default run: %s never fired on the sample archive (%v)", d, all)
		}
	}
	if got := detectorsOf("--policy", filepath.Join("..", "..", "samples", "policy.example.toml")); !got["dscan"] {
		t.Errorf("with the example policy: fired %v", got)
	}
	bad := filepath.Join(t.TempDir(), "bad.toml")
	os.WriteFile(bad, []byte("[trw]\ntheta0 = \"high\"\n"), 0o644)
	code, _, stderr := runCLI(t, "", "report", "--policy", bad, "-o", "-", archive)
	if code != exitUsage || !strings.Contains(stderr, "theta0") || !strings.Contains(stderr, "line 2") {
		t.Errorf("bad policy: exit %d, stderr %q", code, stderr)
	}
}

// generated-at comes from --generated-at, else SOURCE_DATE_EPOCH: two runs
// at different times give the same bytes.
func TestReportSourceDateEpoch(t *testing.T) {
	archive := filepath.Join("..", "..", "samples", "archive")
	t.Setenv("SOURCE_DATE_EPOCH", "1795305600")
	code, out, stderr := runCLI(t, "", "report", "--detectors", "dscan", "-o", "-", "--format", "json", archive)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, `"generated_at": "2026-11-22T00:00:00Z"`) {
		t.Fatalf("generated_at not from SOURCE_DATE_EPOCH:\n%.300s", out)
	}
	_, flag, _ := runCLI(t, "", "report", "--detectors", "dscan", "--generated-at", "2026-11-22T00:00:00Z", "-o", "-", "--format", "json", archive)
	if flag != out {
		t.Fatal("--generated-at and the same SOURCE_DATE_EPOCH give different reports")
	}
	t.Setenv("SOURCE_DATE_EPOCH", "yesterday")
	if code, _, _ := runCLI(t, "", "report", "-o", "-", archive); code != exitUsage {
		t.Fatalf("bad SOURCE_DATE_EPOCH: exit %d", code)
	}
}

// --out DIR publishes each report as one set: DIR/current names the set,
// DIR/report.html and DIR/csv are links into it. The plain files of an
// older flowsift in those places (even a file where csv/ goes) are
// replaced, and a run that fails before writing leaves the published set
// as it was, with nothing of its own behind.
func TestReportSetWrittenWhole(t *testing.T) {
	useUTC(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "report.html"), []byte("previous report"), 0o644)
	os.WriteFile(filepath.Join(dir, "csv"), []byte("in the way"), 0o644)
	archive := filepath.Join("..", "..", "samples", "archive")
	if code, _, stderr := runCLI(t, "", "report", "--format", "html,csv", "--out", dir, sampleLocal, archive); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if got := string(mustRead(filepath.Join(dir, "report.html"))); !strings.Contains(got, "<html") {
		t.Fatalf("report.html not written: %.40q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "csv", "scanners.csv")); err != nil {
		t.Fatal(err)
	}
	before := dirTree(t, dir)
	code, _, stderr := runCLI(t, "", "report", "--format", "html,csv", "--out", dir, sampleLocal, filepath.Join(dir, "no-such-input"))
	if code != exitUsage || !strings.Contains(stderr, "no-such-input") {
		t.Fatalf("missing input: exit %d, stderr %q", code, stderr)
	}
	if after := dirTree(t, dir); after != before {
		t.Fatalf("a failed run changed --out:\nbefore %s\nafter  %s", before, after)
	}
}

// dirTree lists every entry under dir with its link target or size.
func dirTree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		st, _ := os.Lstat(p)
		if l, err := os.Readlink(p); err == nil {
			fmt.Fprintf(&b, "%s->%s ", rel, l)
		} else {
			fmt.Fprintf(&b, "%s:%d ", rel, st.Size())
		}
		return nil
	})
	return b.String()
}
