package main

import (
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/ingest"
	"github.com/flowsift/flowsift/internal/fixture"
)

// expectedCase is one row of testdata/README.md's expected/ table:
// a real flow-dscan run and the command that made it.
type expectedCase struct {
	name    string // e.g. "05-triggers"
	command string // shell command, "\|" already unescaped
}

// readExpectedTable parses the README so that new cases added there run
// without touching this test.
func readExpectedTable(t *testing.T, readme string) []expectedCase {
	f, err := os.Open(readme)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	row := regexp.MustCompile("^\\| `(\\d+-[a-z0-9-]+)\\.stderr`[^|]*\\| `([^`]+)` \\|")
	var out []expectedCase
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if m := row.FindStringSubmatch(sc.Text()); m != nil {
			out = append(out, expectedCase{m[1], strings.ReplaceAll(m[2], `\|`, "|")})
		}
	}
	if len(out) == 0 {
		t.Fatal("no cases found in the expected/ table")
	}
	return out
}

// shellWords splits a command line with single and double quotes.
func shellWords(s string) []string {
	var out []string
	var cur strings.Builder
	in, quote := false, byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			cur.WriteByte(c)
		case c == '\'' || c == '"':
			quote, in = c, true
		case c == ' ' || c == '\t':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

var (
	startField = regexp.MustCompile(`start=(\d{4}\.\d\d:\d\d:\d\d)\.([0-9 ]{3}) $`)
	tsField    = regexp.MustCompile(`ts=(\d+) `)
	dumpTime   = regexp.MustCompile(`^flow-dscan: \d{4}\.\d\d:\d\d:\d\d\.[0-9 ]{3} $`)
)

// maskTimes hides the fields where the real tool prints garbage on 64-bit
// systems (start= and the flow dump's time lines).
func maskTimes(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		l = startField.ReplaceAllString(l, "start=MASKED")
		if dumpTime.MatchString(l) {
			l = "flow-dscan: TIME-MASKED"
		}
		lines[i] = l
	}
	return strings.Join(lines, "\n")
}

func gunzipFile(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// useUTC makes local-time fields UTC, as the fixtures were made with TZ=UTC.
func useUTC(t *testing.T) {
	old := time.Local
	time.Local = time.UTC
	t.Cleanup(func() { time.Local = old })
}

// TestDscanCompatMatchesRealFlowDscan runs every expected/ case through the
// real CLI: `flow-merge FILES | flow-dscan ARGS` becomes
// `flowsift dscan --compat ARGS FILES`, in a working directory that sees
// the fixtures as the real runs did.
func TestDscanCompatMatchesRealFlowDscan(t *testing.T) {
	td := fixture.FlowTools(t)
	useUTC(t)
	for _, c := range readExpectedTable(t, fixture.Path(t, "README.md")) {
		t.Run(c.name, func(t *testing.T) {
			work := t.TempDir()
			entries, _ := os.ReadDir(td)
			for _, e := range entries {
				if err := os.Symlink(filepath.Join(td, e.Name()), filepath.Join(work, e.Name())); err != nil {
					t.Fatal(err)
				}
			}
			t.Chdir(work)
			cmd := c.command
			if pre, rest, ok := strings.Cut(cmd, "&&"); ok {
				w := shellWords(pre) // gunzip -c SRC > DST
				if len(w) != 5 || w[0] != "gunzip" || w[3] != ">" {
					t.Fatalf("cannot run %q", pre)
				}
				if err := os.WriteFile(w[4], gunzipFile(t, w[2]), 0o644); err != nil {
					t.Fatal(err)
				}
				cmd = rest
			}
			merge, dscanPart, ok := strings.Cut(cmd, "|")
			if !ok {
				t.Fatalf("no pipe in %q", cmd)
			}
			files := shellWords(merge)[1:]
			dargs := shellWords(dscanPart)[1:]
			args := append(append([]string{"dscan", "--compat"}, dargs...), files...)
			code, _, stderr := runCLI(t, "", args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			want, err := os.ReadFile(filepath.Join(td, "expected", c.name+".stderr"))
			if err != nil {
				t.Fatal(err)
			}
			if got, exp := maskTimes(stderr), maskTimes(string(want)); got != exp {
				t.Errorf("output differs from the real flow-dscan's:\n%s", firstDiff(got, exp))
			}
			checkStartMatchesTS(t, stderr)
			checkDumpTimes(t, stderr, files)
			if gz := filepath.Join(td, "expected", c.name+".state.gz"); fileExists(gz) {
				state := stateArg(dargs)
				got, err := os.ReadFile(state)
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != string(gunzipFile(t, gz)) {
					t.Errorf("state file %s differs from the real flow-dscan's", state)
				}
			}
		})
	}
}

// checkStartMatchesTS: flowsift's start= is the correct local (here UTC)
// time of the flow start that ts= gives in seconds.
func checkStartMatchesTS(t *testing.T, out string) {
	for _, l := range strings.Split(out, "\n") {
		m, ts := startField.FindStringSubmatch(l), tsField.FindStringSubmatch(l)
		if m == nil || ts == nil {
			continue
		}
		secs, _ := strconv.ParseInt(ts[1], 10, 64)
		want := time.Unix(secs, 0).UTC().Format("0102.15:04:05")
		if m[1] != want {
			t.Errorf("start=%s does not match ts=%d (%s): %s", m[1], secs, want, l)
		}
		if _, err := strconv.Atoi(strings.TrimSpace(m[2])); err != nil {
			t.Errorf("bad milliseconds in %q", l)
		}
	}
}

func stateArg(args []string) string {
	for i, a := range args {
		if a == "-s" && i+1 < len(args) {
			return args[i+1]
		}
		if strings.HasPrefix(a, "-s") && len(a) > 2 {
			return a[2:]
		}
	}
	return "/var/tmp/dscan.state"
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n got: %q\nwant: %q\n(%d lines vs %d)", i+1, gl, wl, len(g), len(w))
		}
	}
	return "equal"
}

// checkDumpTimes: each flow dump's two time lines are the local (here UTC)
// start and end, per the flow-tools formula, of an input flow with the
// dumped addresses, ports, packets and octets.
func checkDumpTimes(t *testing.T, out string, files []string) {
	lines := strings.Split(out, "\n")
	var dumps [][3]string
	for i := 0; i+2 < len(lines); i++ {
		if dumpTime.MatchString(lines[i]) && dumpTime.MatchString(lines[i+1]) {
			dumps = append(dumps, [3]string{lines[i], lines[i+1], lines[i+2]})
			i += 2
		}
	}
	if len(dumps) == 0 {
		return
	}
	render := func(ms uint64) string {
		return "flow-dscan: " + time.UnixMilli(int64(ms)).UTC().Format("0102.15:04:05") + fmt.Sprintf(".%-3d ", ms%1000)
	}
	times := map[string]map[[2]string]bool{}
	_, err := ingest.Run(context.Background(), files, ingest.Options{}, func(b flow.Batch) error {
		for i := range b {
			r := &b[i]
			k := fmt.Sprintf("%s %d %s %d %d %d", r.Src, r.SrcPort, r.Dst, r.DstPort, r.Packets, r.Octets)
			if times[k] == nil {
				times[k] = map[[2]string]bool{}
			}
			times[k][[2]string{render(r.FTStartMS()), render(r.FTEndMS())}] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dumps {
		f := strings.Fields(strings.TrimPrefix(d[2], "flow-dscan:"))
		if len(f) != 10 {
			t.Errorf("flow dump line %q: want 10 fields", d[2])
			continue
		}
		k := strings.Join([]string{f[1], f[2], f[4], f[5], f[8], f[9]}, " ")
		if !times[k][[2]string{d[0], d[1]}] {
			t.Errorf("flow dump times %q %q match no input flow %s", d[0], d[1], k)
		}
	}
}
