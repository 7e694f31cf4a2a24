package main

// The hostile-input suite of issue 17: outputs that are devices or pipes,
// report sets under kills and concurrent writers, signals, leftovers of
// killed runs, and damaged or odd input. The cases that need a real
// process (a signal, kill -9, several writers at once) run the binary
// built once by TestMain.

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flowsift/flowsift/internal/atomicfile"
	"github.com/flowsift/flowsift/internal/fixture"
)

var builtBinary struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtBinary.dir != "" {
		os.RemoveAll(builtBinary.dir)
	}
	os.Exit(code)
}

// flowsiftBinary builds cmd/flowsift once per test run.
func flowsiftBinary(t *testing.T) string {
	t.Helper()
	b := &builtBinary
	b.once.Do(func() {
		if b.dir, b.err = os.MkdirTemp("", "flowsift-bin-"); b.err != nil {
			return
		}
		b.path = filepath.Join(b.dir, "flowsift")
		goCmd, err := exec.LookPath("go")
		if err != nil {
			goCmd = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
		}
		if out, err := exec.Command(goCmd, "build", "-o", b.path, ".").CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

func sampleArchive(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "samples", "archive"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// readPublished reads a report set the way a user does: through
// DIR/report.* and DIR/csv/.
func readPublished(dir string) map[string]string {
	files := map[string]string{}
	for _, n := range []string{"report.html", "report.md", "report.json"} {
		if b, err := os.ReadFile(filepath.Join(dir, n)); err == nil {
			files[n] = string(b)
		}
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "csv"))
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join(dir, "csv", e.Name()))
		files["csv/"+e.Name()] = string(b)
	}
	return files
}

// leftovers lists what in dir (and its .flowsift) is neither the
// published report nor the lock: temporaries and sets of unfinished runs.
func leftovers(dir string) []string {
	var out []string
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		switch e.Name() {
		case "report.html", "report.md", "report.json", "csv", "current", atomicfile.DirMeta:
		default:
			out = append(out, e.Name())
		}
	}
	cur, _ := os.Readlink(filepath.Join(dir, "current"))
	ents, _ = os.ReadDir(filepath.Join(dir, atomicfile.DirMeta))
	for _, e := range ents {
		if n := e.Name(); n != "lock" && filepath.Join(atomicfile.DirMeta, n) != cur {
			out = append(out, filepath.Join(atomicfile.DirMeta, n))
		}
	}
	return out
}

// reportStamps are the --generated-at values of the runs that race: each
// gives a set of different bytes, so a mix of two is visible.
var reportStamps = []string{"2026-11-22T06:00:00Z", "2026-11-23T06:00:00Z", "2026-11-24T06:00:00Z"}

func reportArgs(stamp, out, archive string) []string {
	return []string{"report", "--generated-at", stamp, sampleLocal, "--out", out, archive}
}

var references struct {
	sync.Mutex
	refs map[string]map[string]string
	took time.Duration
}

// referenceSets runs one report per stamp to completion, once for all the
// tests, and returns the sets and the longest wall time of a run.
func referenceSets(t *testing.T, bin, archive string) (map[string]map[string]string, time.Duration) {
	t.Helper()
	references.Lock()
	defer references.Unlock()
	if references.refs != nil {
		return references.refs, references.took
	}
	refs := map[string]map[string]string{}
	var longest time.Duration
	for _, s := range reportStamps {
		dir := t.TempDir()
		t0 := time.Now()
		if out, err := exec.Command(bin, reportArgs(s, dir, archive)...).CombinedOutput(); err != nil {
			t.Fatalf("reference report %s: %v\n%s", s, err, out)
		}
		longest = max(longest, time.Since(t0))
		refs[s] = readPublished(dir)
		if len(refs[s]) < 10 {
			t.Fatalf("reference report %s: only %d files", s, len(refs[s]))
		}
	}
	references.refs, references.took = refs, longest
	return refs, longest
}

// whichSet names the reference set got equals, or "" for none (a mix).
func whichSet(got map[string]string, refs map[string]map[string]string) string {
	for s, ref := range refs {
		if maps.Equal(got, ref) {
			return s
		}
	}
	return ""
}

func describeMix(got map[string]string, refs map[string]map[string]string) string {
	var b strings.Builder
	for _, n := range slices.Sorted(maps.Keys(got)) {
		from := "?"
		for s, ref := range refs {
			if ref[n] == got[n] {
				from = s
			}
		}
		fmt.Fprintf(&b, "%s from %s; ", n, from)
	}
	return b.String()
}

// Killed at many points of a run (SIGKILL, SIGTERM, SIGINT), report --out
// shows the previous set or the new one, whole; SIGTERM and SIGINT leave
// nothing behind and exit 143 and 130; what kill -9 leaves is named as a
// set or temporary of its pid and removed by the next run.
func TestHostileReportKilledWhileWriting(t *testing.T) {
	bin := flowsiftBinary(t)
	archive := sampleArchive(t)
	refs, took := referenceSets(t, bin, archive)
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "rep")
			cur := reportStamps[0]
			if o, err := exec.Command(bin, reportArgs(cur, out, archive)...).CombinedOutput(); err != nil {
				t.Fatalf("first report: %v\n%s", err, o)
			}
			// Delays grow from a third of a run in steps of a sixteenth until
			// two runs in a row were late enough to publish: the sweep
			// crosses the write phase whatever the machine's load.
			const maxPoints = 40
			inWrite, published, points, lastPublished := 0, 0, 0, false
			for i := 0; i < maxPoints; i++ {
				points++
				next := reportStamps[1]
				if cur == next {
					next = reportStamps[0]
				}
				// Points from a third of a run to a little past its end, where
				// the input is read and the set is written and published.
				delay := took/3 + time.Duration(i)*took/16
				cmd := exec.Command(bin, reportArgs(next, out, archive)...)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				time.Sleep(delay)
				cmd.Process.Signal(sig)
				cmd.Wait()
				st := cmd.ProcessState.Sys().(syscall.WaitStatus)
				got := readPublished(out)
				switch whichSet(got, refs) {
				case cur:
					lastPublished = false
				case next:
					cur = next
					published++
					if lastPublished {
						i = maxPoints
					}
					lastPublished = true
				default:
					t.Fatalf("%v after %v: a mix of two reports: %s", sig, delay, describeMix(got, refs))
				}
				left := leftovers(out)
				switch {
				case sig == syscall.SIGKILL:
					for _, l := range left {
						if !strings.HasPrefix(l, filepath.Join(atomicfile.DirMeta, "set-")) && !strings.Contains(l, atomicfile.Tag) {
							t.Fatalf("kill -9 after %v left %q, not named as flowsift's", delay, l)
						}
					}
					if len(left) > 0 {
						inWrite++
					}
				case len(left) > 0:
					t.Fatalf("%v after %v left %v (stderr %q)", sig, delay, left, stderr.String())
				case st.Exited() && st.ExitStatus() == 0:
				case st.Exited() && st.ExitStatus() == 128+int(sig):
					inWrite++
				case st.Signaled() && st.Signal() == sig:
					// Before the handler is installed (the runtime's start):
					// the shell sees the same 128+n.
				default:
					t.Fatalf("%v after %v: status %v, want exit %d; stderr %q", sig, delay, st, 128+int(sig), stderr.String())
				}
			}
			// inWrite: SIGKILL runs that left a staged set (killed in the
			// write phase); SIGTERM/SIGINT runs that exited 128+n.
			t.Logf("%v at %d points: %d stopped part way, %d published the new set", sig, points, inWrite, published)
			// The next run removes whatever was left.
			if o, err := exec.Command(bin, reportArgs(reportStamps[2], out, archive)...).CombinedOutput(); err != nil {
				t.Fatalf("report after the kills: %v\n%s", err, o)
			}
			if left := leftovers(out); len(left) > 0 {
				t.Fatalf("left after a complete run: %v", left)
			}
			if whichSet(readPublished(out), refs) != reportStamps[2] {
				t.Fatal("last run's set not published whole")
			}
		})
	}
}

// Several runs on one --out at once never interleave: each either
// publishes its whole set or stops at once with exit 2 naming the lock,
// and the directory ends holding one run's set whole.
func TestHostileReportConcurrentWriters(t *testing.T) {
	bin := flowsiftBinary(t)
	archive := sampleArchive(t)
	refs, _ := referenceSets(t, bin, archive)
	for round := range 4 {
		out := filepath.Join(t.TempDir(), "rep")
		const writers = 6
		cmds := make([]*exec.Cmd, writers)
		errs := make([]*bytes.Buffer, writers)
		for i := range cmds {
			cmds[i] = exec.Command(bin, reportArgs(reportStamps[i%len(reportStamps)], out, archive)...)
			errs[i] = &bytes.Buffer{}
			cmds[i].Stderr = errs[i]
		}
		for _, c := range cmds {
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
		}
		done := map[string]bool{}
		for i, c := range cmds {
			c.Wait()
			switch code := c.ProcessState.ExitCode(); {
			case code == 0:
				done[reportStamps[i%len(reportStamps)]] = true
			case code == exitUsage && strings.Contains(errs[i].String(), "another flowsift run is writing"):
			default:
				t.Fatalf("round %d writer %d: exit %d: %s", round, i, code, errs[i])
			}
		}
		if len(done) == 0 {
			t.Fatalf("round %d: no writer published", round)
		}
		got := readPublished(out)
		if s := whichSet(got, refs); !done[s] {
			t.Fatalf("round %d: published set is not one finished run's: %s", round, describeMix(got, refs))
		}
		if left := leftovers(out); len(left) > 0 {
			t.Fatalf("round %d: left %v", round, left)
		}
	}
}

// outputNode makes a character device with /dev/null's numbers (root
// only) or a named pipe in dir, never touching the real /dev/null.
func outputNode(t *testing.T, dir, kind string) string {
	t.Helper()
	p := filepath.Join(dir, kind)
	switch kind {
	case "device":
		if os.Geteuid() != 0 {
			t.Skip("mknod needs root")
		}
		if err := syscall.Mknod(p, syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
			t.Skipf("mknod: %v", err)
		}
	case "fifo":
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// drain reads a named pipe until its writer closes it.
func drain(p string) <-chan []byte {
	ch := make(chan []byte, 1)
	go func() {
		f, err := os.Open(p)
		if err != nil {
			ch <- nil
			return
		}
		b, _ := io.ReadAll(f)
		f.Close()
		ch <- b
	}()
	return ch
}

// Output to a device or a named pipe is written in place, never replaced
// by a regular file; the state file must be a regular file or missing.
func TestHostileOutputDevicesAndPipes(t *testing.T) {
	useUTC(t)
	archive := sampleArchive(t)
	cases := []struct {
		name, kind string
		args       func(node string) []string
		code       int
		want       string // in what the pipe's reader got, or in stderr for exit 2
	}{
		{"convert csv to device", "device", func(n string) []string { return []string{"convert", "--to", "csv", archive, n} }, 0, ""},
		{"convert csv to pipe", "fifo", func(n string) []string { return []string{"convert", "--to", "csv", archive, n} }, 0, "#:"},
		{"convert parquet to pipe", "fifo", func(n string) []string { return []string{"convert", "--to", "parquet", archive, n} }, 0, "PAR1"},
		{"report html to device", "device", func(n string) []string {
			return []string{"report", "--format", "html", "-o", n, sampleLocal, archive}
		}, 0, ""},
		{"report md to pipe", "fifo", func(n string) []string { return []string{"report", "--format", "md", "-o", n, sampleLocal, archive} }, 0, "# flowsift"},
		{"dscan -p -s device", "device", func(n string) []string { return []string{"dscan", "-b", "-p", "-s", n, archive} }, exitUsage, "not a regular file"},
		{"dscan -l -s pipe", "fifo", func(n string) []string { return []string{"dscan", "-b", "-l", "-s", n, archive} }, exitUsage, "not a regular file"},
		{"dscan -p -s directory", "dir", func(n string) []string { return []string{"dscan", "-b", "-p", "-s", n, archive} }, exitUsage, "not a regular file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			node := filepath.Join(dir, "dir")
			if c.kind == "dir" {
				os.Mkdir(node, 0o755)
			} else {
				node = outputNode(t, dir, c.kind)
			}
			before, _ := os.Stat(node)
			var got <-chan []byte
			if c.kind == "fifo" && c.code == 0 {
				got = drain(node)
			}
			code, _, stderr := runCLI(t, "", c.args(node)...)
			if code != c.code {
				t.Fatalf("exit %d, want %d: %s", code, c.code, stderr)
			}
			if c.code != 0 && !strings.Contains(stderr, c.want) {
				t.Fatalf("stderr %q lacks %q", stderr, c.want)
			}
			if got != nil {
				select {
				case b := <-got:
					if !strings.Contains(string(b), c.want) {
						t.Fatalf("the pipe's reader got %d bytes without %q", len(b), c.want)
					}
				case <-time.After(20 * time.Second):
					t.Fatal("the pipe's reader got nothing")
				}
			}
			after, err := os.Stat(node)
			if err != nil || after.Mode().Type() != before.Mode().Type() {
				t.Fatalf("%s became %v (%v)", c.kind, after.Mode(), err)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 1 {
				t.Fatalf("files left beside the output: %d entries", len(ents))
			}
		})
	}
}

// An --out or -o that cannot be written, or an --out another run holds,
// is found before any input is read: exit 2 naming it, and nothing made.
func TestHostileOutputCheckedBeforeReading(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	os.WriteFile(file, nil, 0o644)
	missing := filepath.Join(dir, "no-such-input")
	for _, args := range [][]string{
		{"report", "--out", filepath.Join(file, "rep"), missing},
		{"report", "-o", filepath.Join(file, "r.html"), missing},
		{"report", "-o", dir, "--format", "html", missing},
	} {
		code, _, stderr := runCLI(t, "", args...)
		if code != exitUsage || !strings.Contains(stderr, "a-file") && !strings.Contains(stderr, "is a directory") || strings.Contains(stderr, "no-such-input") {
			t.Errorf("%v: exit %d, stderr %q: want 2 naming the output, before the input", args, code, stderr)
		}
	}
	// Held by another run: the lock is taken here as that run would.
	out := filepath.Join(dir, "rep")
	d, err := atomicfile.OpenDir(out)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	code, _, stderr := runCLI(t, "", "report", "--out", out, missing)
	if code != exitUsage || !strings.Contains(stderr, "another flowsift run is writing") || strings.Contains(stderr, "no-such-input") {
		t.Errorf("busy --out: exit %d, stderr %q", code, stderr)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Errorf("%d entries in %s, want a-file and rep", len(ents), dir)
	}
}

// kill -9 during dscan -p or convert leaves temporaries named with the
// pid; SIGTERM leaves none. The next run into the same directory removes
// what a dead process left.
func TestHostileLeftoversOfKilledRuns(t *testing.T) {
	bin := flowsiftBinary(t)
	tree := filepath.Join(fixture.FlowTools(t), "ft-tree")
	archive := sampleArchive(t)
	dir := t.TempDir()
	state := filepath.Join(dir, "big.state")
	runs := map[string]func(i int) []string{
		"dscan -p": func(int) []string {
			return []string{"dscan", "-b", "-L", filepath.Join(dir, "none"), "-p", "-s", state, tree}
		},
		"convert --to csv": func(int) []string { return []string{"convert", "--to", "csv", archive, filepath.Join(dir, "x.csv")} },
		"convert --partition": func(i int) []string {
			return []string{"convert", "--to", "parquet", "--partition", "hour", archive, filepath.Join(dir, fmt.Sprint("K", i))}
		},
	}
	for _, name := range slices.Sorted(maps.Keys(runs)) {
		var killed []string
		t0 := time.Now()
		if out, err := exec.Command(bin, runs[name](100)...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		took := time.Since(t0)
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
			for i := range 6 {
				delay := took * time.Duration(i+2) / 8
				cmd := exec.Command(bin, runs[name](i)...)
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				time.Sleep(delay)
				cmd.Process.Signal(sig)
				cmd.Wait()
				if sig == syscall.SIGKILL {
					killed = append(killed, fmt.Sprintf("%s%d-", atomicfile.Tag, cmd.Process.Pid))
				}
				for _, e := range mustReadDir(t, dir) {
					if strings.Contains(e, atomicfile.Tag) && !slices.ContainsFunc(killed, func(k string) bool { return strings.Contains(e, k) }) {
						t.Fatalf("%s: %v after %v: %s left, not named by a killed pid", name, sig, delay, e)
					}
				}
			}
		}
		left := 0
		for _, e := range mustReadDir(t, dir) {
			if strings.Contains(e, atomicfile.Tag) {
				left++
			}
		}
		t.Logf("%s: %d temporaries of killed runs before the next run", name, left)
		// Whether a kill landed while a temporary existed depends on the
		// machine's load; one of each kind, as kill -9 leaves them, named
		// by the last killed (gone) process, is always there.
		dead := killed[len(killed)-1]
		os.WriteFile(filepath.Join(dir, ".x.csv"+dead+"1"), nil, 0o644)
		os.MkdirAll(filepath.Join(dir, ".K7"+dead+"2", "date=2026-11-20"), 0o755)
		// A complete run of the same command sweeps the dead ones' files.
		if out, err := exec.Command(bin, runs[name](99)...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		for _, e := range mustReadDir(t, dir) {
			if strings.Contains(e, atomicfile.Tag) {
				t.Fatalf("%s: a complete run left %s in place", name, e)
			}
		}
	}
}

func mustReadDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// sealState ends a default-mode state body with its checksum line.
func sealState(body string) []byte {
	sum := sha256.Sum256([]byte(body))
	return []byte(body + "sha256 " + hex.EncodeToString(sum[:]) + "\n")
}

// State files that load would misbehave: a flow index that would wrap is
// refused (exit 2 naming the line), a source with more than D
// destinations is cut to D with a warning and written back so, an
// overlong line is named as such.
func TestHostileStateFiles(t *testing.T) {
	tree := filepath.Join(fixture.FlowTools(t), "ft-tree")
	dir := t.TempDir()
	state := filepath.Join(dir, "s.state")
	args := []string{"dscan", "-b", "-L", filepath.Join(dir, "none"), "-s", state}
	var many strings.Builder
	fmt.Fprintf(&many, "flowsift-dscan-state 1\ntotal 5000\nS 192.0.2.1 1 5000\n")
	for i := range 5000 {
		fmt.Fprintf(&many, "D 10.0.%d.%d %d\n", i>>8, i&255, i+1)
	}
	many.WriteString("end\n")
	for _, c := range []struct {
		name  string
		state []byte
		code  int
		want  string
	}{
		{"total 2^64-1", sealState("flowsift-dscan-state 1\ntotal 18446744073709551615\nend\n"), exitUsage, "line 2: total 18446744073709551615: beyond"},
		{"overlong line", sealState("flowsift-dscan-state 1\ntotal 1\nS " + strings.Repeat("1", 1<<20) + "\nend\n"), exitUsage, "line 3: longer than"},
		{"5000 destinations", sealState(many.String()), 0, "1 sources listed more than -D 200 destinations; their 4800 least recently seen were dropped"},
	} {
		os.WriteFile(state, c.state, 0o644)
		code, _, stderr := runCLI(t, "", append(args, "-l", "-p", tree)...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want %d and %q", c.name, code, stderr, c.code, c.want)
			continue
		}
		if code == 0 {
			b, _ := os.ReadFile(state)
			if n := strings.Count(string(b), "\nD 10.0."); n > 200 {
				t.Errorf("%s: written back with %d destinations of the source", c.name, n)
			}
		}
	}
}

// routersCSV is a flow-export CSV made by the real flow-export (see
// testdata/README.md): 6,398 rows under its "#:" header.
func routersCSV(t *testing.T) []byte {
	t.Helper()
	return gunzipFile(t, fixture.FlowTools(t, "expected", "routers-abc.export-f2.csv.gz"))
}

func gzipped(b []byte) []byte {
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(b)
	zw.Close()
	return out.Bytes()
}

// Damaged and odd CSV input: what is read, what is skipped and said, and
// --strict stopping every command at the first damage with exit 2 and
// nothing written.
func TestHostileCSVInput(t *testing.T) {
	useUTC(t)
	good := routersCSV(t)
	lines := strings.SplitAfter(string(good), "\n")
	rows := len(lines) - 2 // the header, and "" after the final newline
	withLine := func(n int, s string) []byte {
		l := slices.Clone(lines)
		l[n-1] = s
		return []byte(strings.Join(l, ""))
	}
	noDst := func() []byte {
		var b strings.Builder
		for _, l := range lines {
			f := strings.Split(l, ",")
			if len(f) > 11 {
				f = slices.Delete(f, 11, 12) // dstaddr
			}
			b.WriteString(strings.Join(f, ","))
		}
		return []byte(b.String())
	}
	gz := gzipped(good)
	cut := good[:len(good)-3] // inside the last row's last field, no newline
	cases := []struct {
		name, file string
		data       []byte
		args       []string // before the input; the input is appended
		code       int
		stderr     []string // each must appear
		flows      int      // rows read (dscan --summary), -1: not checked
	}{
		{"bad row", "bad.csv", withLine(100, "1795428006,garbage\n"), nil, exitPartial, []string{"bad.csv: line 100: bad-row"}, rows - 1},
		{"bad row --strict", "bad.csv", withLine(100, "1795428006,garbage\n"), []string{"--strict"}, exitUsage, []string{"--strict: stopped at", "line 100"}, -1},
		{"gzip cut short", "cut.csv.gz", gz[:len(gz)/2], nil, exitPartial, []string{"cut.csv.gz: line", "truncated"}, -2},
		{"gzip cut short --strict", "cut.csv.gz", gz[:len(gz)/2], []string{"--strict"}, exitUsage, []string{"--strict: stopped at", "cut.csv.gz"}, -1},
		{"cut in the last field", "cut.csv", cut, nil, exitPartial, []string{fmt.Sprintf("cut.csv: line %d: truncated: the last line has no newline", rows+1)}, rows - 1},
		{"UTF-8 BOM", "bom.csv", append([]byte("\xef\xbb\xbf"), good...), nil, 0, nil, rows},
		{"UTF-8 BOM, gzip", "bom.csv.gz", gzipped(append([]byte("\xef\xbb\xbf"), good...)), nil, 0, nil, rows},
		{"no dstaddr column", "nodst.csv", noDst(), nil, exitUsage, []string{"no dstaddr column"}, -1},
		{"newline in the name", "x\nflows: 9 read.csv", withLine(5, "junk\n"), nil, exitPartial, []string{`x\nflows: 9 read.csv`}, rows - 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			in := filepath.Join(dir, c.file)
			os.WriteFile(in, c.data, 0o644)
			args := append([]string{"dscan", "-b", "--summary", "-L", filepath.Join(dir, "none")}, c.args...)
			code, _, stderr := runCLI(t, "", append(args, in)...)
			if code != c.code {
				t.Fatalf("exit %d, want %d: %s", code, c.code, tail(stderr))
			}
			for _, w := range c.stderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q: %s", w, tail(stderr))
				}
			}
			for _, l := range strings.Split(stderr, "\n") {
				if strings.HasPrefix(l, "flows: 9") {
					t.Errorf("a file name forged a line: %q", l)
				}
			}
			switch {
			case c.flows >= 0 && !strings.Contains(stderr, fmt.Sprintf("flows: %d\n", c.flows)):
				t.Errorf("want %d flows read: %s", c.flows, tail(stderr))
			case c.flows == -2 && (strings.Contains(stderr, "flows: 0\n") || !strings.Contains(stderr, "flows: ")):
				t.Errorf("the rows before the break were not kept: %s", tail(stderr))
			}
			if len(c.args) > 0 && c.args[0] == "--strict" {
				// The same for report (nothing written, not even --out)
				// and convert.
				out := filepath.Join(dir, "rep")
				if code, _, stderr := runCLI(t, "", "report", "--strict", "--out", out, in); code != exitUsage || !strings.Contains(stderr, "--strict: stopped at") {
					t.Errorf("report --strict: exit %d: %s", code, tail(stderr))
				}
				csvOut := filepath.Join(dir, "out.csv")
				if code, _, stderr := runCLI(t, "", "convert", "--strict", "--to", "csv", in, csvOut); code != exitUsage || !strings.Contains(stderr, "--strict") {
					t.Errorf("convert --strict: exit %d: %s", code, tail(stderr))
				}
				if got := mustReadDir(t, dir); !slices.Equal(got, []string{c.file}) {
					t.Errorf("--strict left %v", got)
				}
			}
		})
	}
}

// The same file given twice, or a tree and a file inside it, is read once
// with a note, and the run is not partial.
func TestHostileDuplicateInputs(t *testing.T) {
	useUTC(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "r.csv")
	os.WriteFile(in, routersCSV(t), 0o644)
	for _, args := range [][]string{{in, in}, {dir, in}, {in, filepath.Join(dir, ".", "r.csv")}} {
		code, _, stderr := runCLI(t, "", append([]string{"dscan", "-b", "--summary", "-L", filepath.Join(dir, "none")}, args...)...)
		if code != 0 || !strings.Contains(stderr, "flows: 6398\n") || !strings.Contains(stderr, "duplicate: the same file as") {
			t.Errorf("%v: exit %d: %s", args, code, tail(stderr))
		}
	}
}

// A suppress list of garbage is an error for report naming the file and
// line, with the bytes escaped, and exit 2.
func TestHostileSuppressGarbage(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "sup")
	os.WriteFile(base+".src", []byte("10.0.0.1 6 - 80\n\x1b[31mred\xff 1 2\n"), 0o644)
	os.WriteFile(base+".dst", nil, 0o644)
	code, _, stderr := runCLI(t, "", "report", "--suppress", base, "-o", "-", "--format", "json", sampleArchive(t))
	if code != exitUsage || !strings.Contains(stderr, base+".src: line 2: syntax error") || !strings.Contains(stderr, `\x1b[31mred\xff 1 2`) || strings.Contains(stderr, "\x1b") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	// dscan warns and goes on, as flow-dscan does: the default mode shows
	// the line escaped, --compat raw as flow-dscan prints it.
	tree := filepath.Join(fixture.FlowTools(t), "ft-tree")
	code, _, stderr = runCLI(t, "", "dscan", "-b", "-L", base, tree)
	if code != 0 || !strings.Contains(stderr, `suppress parser: syntax error: \x1b[31mred\xff 1 2`) || strings.Contains(stderr, "\x1b") {
		t.Fatalf("dscan: exit %d, stderr %q", code, tail(stderr))
	}
	code, _, stderr = runCLI(t, "", "dscan", "--compat", "-b", "-L", base, tree)
	if code != 0 || !strings.Contains(stderr, "suppress parser: syntax error: \x1b[31mred\xff 1 2\n") {
		t.Fatalf("dscan --compat: exit %d, stderr %q", code, tail(stderr))
	}
}

// tail is the end of a long stderr, for messages.
func tail(s string) string {
	if len(s) > 1500 {
		return "..." + s[len(s)-1500:]
	}
	return s
}

// A write that fails part way (here the file size limit, EFBIG, standing
// in for a full disk) is exit 2 naming the file; the published report
// stays whole, and nothing of the failed run is left, not even csv/.
func TestHostileReportWriteFails(t *testing.T) {
	bin := flowsiftBinary(t)
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh for ulimit")
	}
	archive := sampleArchive(t)
	out := filepath.Join(t.TempDir(), "rep")
	if o, err := exec.Command(bin, reportArgs(reportStamps[0], out, archive)...).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, o)
	}
	before := readPublished(out)
	tree := dirTree(t, out)
	// 40 blocks: the small CSV tables fit, report.html does not.
	cmd := exec.Command(sh, append([]string{"-c", `ulimit -f 40 && exec "$0" "$@"`, bin}, reportArgs(reportStamps[1], out, archive)...)...)
	o, _ := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != exitUsage || !strings.Contains(string(o), "file too large") {
		t.Fatalf("exit %d, want 2 naming the failed write: %s", code, o)
	}
	if !maps.Equal(readPublished(out), before) || dirTree(t, out) != tree {
		t.Fatalf("a failed write changed --out:\n%s\n%s", tree, dirTree(t, out))
	}
	// Into a new directory: nothing is left at all.
	fresh := filepath.Join(t.TempDir(), "new")
	cmd = exec.Command(sh, append([]string{"-c", `ulimit -f 40 && exec "$0" "$@"`, bin}, reportArgs(reportStamps[1], fresh, archive)...)...)
	cmd.Run()
	if _, err := os.Lstat(fresh); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed first report left %s: %s", fresh, dirTree(t, fresh))
	}
}

// SIGTERM during the first report into a new --out leaves no directory,
// or the whole report if it was published in time.
func TestHostileReportFirstRunInterrupted(t *testing.T) {
	bin := flowsiftBinary(t)
	archive := sampleArchive(t)
	refs, took := referenceSets(t, bin, archive)
	for i := range 8 {
		out := filepath.Join(t.TempDir(), "new", "rep")
		cmd := exec.Command(bin, reportArgs(reportStamps[0], out, archive)...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		delay := time.Duration(i+1) * took / 7
		time.Sleep(delay)
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if _, err := os.Lstat(filepath.Dir(out)); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if whichSet(readPublished(out), refs) != reportStamps[0] || len(leftovers(out)) > 0 {
			t.Fatalf("SIGTERM after %v: %s", delay, dirTree(t, filepath.Dir(out)))
		}
	}
}
