package main

// The hostile-input suite of issue 17: outputs that are devices or pipes,
// report sets under kills and concurrent writers, signals, leftovers of
// killed runs, and damaged or odd input. The cases that need a real
// process (a signal, kill -9, several writers at once) run the binary
// built once by TestMain.

import (
	"bytes"
	"fmt"
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

// referenceSets runs one report per stamp to completion, and returns the
// sets and the longest wall time of a run.
func referenceSets(t *testing.T, bin, archive string) (map[string]map[string]string, time.Duration) {
	t.Helper()
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
			const points = 14
			inWrite, published := 0, 0
			for i := range points {
				next := reportStamps[1]
				if cur == next {
					next = reportStamps[0]
				}
				// Points from a third of a run to a little past its end, where
				// the input is read and the set is written and published.
				delay := took/3 + time.Duration(i)*took/points
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
				case next:
					cur = next
					published++
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
