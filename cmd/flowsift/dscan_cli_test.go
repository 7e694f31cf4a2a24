package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowsift/flowsift/internal/fixture"
)

func TestDscanBadOptionsExit2(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-x"}, "x"},
		{[]string{"-i", "65536"}, "65536"},
		{[]string{"-I70000"}, "70000"},
		{[]string{"-D", "many"}, "many"},
		{[]string{"-D"}, "D"},
		{[]string{"--no-such"}, "no-such"},
		{[]string{"-t", "-5"}, "-5"},
	} {
		code, _, stderr := runCLI(t, "", append([]string{"dscan"}, tc.args...)...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("dscan %q: exit %d, stderr %q; want exit 2 naming %q", tc.args, code, stderr, tc.want)
		}
	}
}

// getopt forms: bundled flags and attached or separate values mean the same.
func TestDscanGetoptForms(t *testing.T) {
	td := fixture.FlowTools(t)
	useUTC(t)
	base := []string{"dscan", "--compat", "-L", filepath.Join(td, "dscan.suppress")}
	tree := filepath.Join(td, "ft-tree")
	_, _, want := runCLI(t, "", append(base, "-b", "-m", "-W", "-D", "64", "-S", "32", tree)...)
	if !strings.Contains(want, "flow-dscan: ") {
		t.Fatalf("no flow-dscan lines: %q", want)
	}
	for _, form := range [][]string{{"-bmW", "-D64", "-S32"}, {"-bmWD", "64", "-S", "32"}} {
		code, _, got := runCLI(t, "", append(append(base, form...), tree)...)
		if code != 0 || got != want {
			t.Errorf("%q: exit %d, output differs from the separate form:\n%s", form, code, firstDiff(got, want))
		}
	}
}

// flow-dscan refuses to start without its suppress files; default mode warns.
func TestDscanMissingSuppress(t *testing.T) {
	td := fixture.FlowTools(t)
	t.Chdir(t.TempDir())
	tree := filepath.Join(td, "ft-tree")
	code, _, stderr := runCLI(t, "", "dscan", "--compat", "-b", tree)
	if code != 2 || !strings.Contains(stderr, "dscan.suppress.src") {
		t.Fatalf("compat without suppress: exit %d, %q", code, stderr)
	}
	code, _, stderr = runCLI(t, "", "dscan", "-b", tree)
	if code != 0 || !strings.Contains(stderr, "warning: suppress list ./dscan.suppress.src") {
		t.Fatalf("default without suppress: exit %d, %q", code, stderr)
	}
}

// Default-mode state: written atomically (no temporary file left), loaded
// back, and a damaged file is an error naming what is wrong unless
// --ignore-bad-state.
func TestDscanDefaultStateFile(t *testing.T) {
	td := fixture.FlowTools(t)
	useUTC(t)
	dir := t.TempDir()
	state := filepath.Join(dir, "dscan.state")
	args := []string{"dscan", "-b", "-L", filepath.Join(td, "dscan.suppress"), "-s", state}
	tree := filepath.Join(td, "ft-tree")
	if code, _, stderr := runCLI(t, "", append(args, "-p", tree)...); code != 0 {
		t.Fatalf("-p: exit %d %s", code, stderr)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("state dir holds %d entries, want only the state file", len(ents))
	}
	data, err := os.ReadFile(state)
	if err != nil || !strings.HasPrefix(string(data), "flowsift-dscan-state ") {
		t.Fatalf("state: %v %.40q", err, data)
	}
	if code, _, stderr := runCLI(t, "", append(args, "-l", tree)...); code != 0 {
		t.Fatalf("-l: exit %d %s", code, stderr)
	}
	for name, bad := range map[string][]byte{
		"truncated": data[:len(data)/2],
		"changed":   []byte(strings.Replace(string(data), "total ", "total 1", 1)),
		"compat":    []byte("H 1 1 0 10.0.0.1\nI  1 10.0.0.2\n.\n"),
	} {
		os.WriteFile(state, bad, 0o644)
		code, _, stderr := runCLI(t, "", append(args, "-l", tree)...)
		if code != 2 || !strings.Contains(stderr, state) {
			t.Errorf("%s state: exit %d %q, want exit 2 naming the file", name, code, stderr)
		}
		code, _, stderr = runCLI(t, "", append(args, "-l", "--ignore-bad-state", tree)...)
		if code != 0 || !strings.Contains(stderr, "--ignore-bad-state") {
			t.Errorf("%s state with --ignore-bad-state: exit %d %q", name, code, stderr)
		}
	}
}

// --max-sources evictions are counted in the run's closing lines.
func TestDscanMaxSourcesReported(t *testing.T) {
	td := fixture.FlowTools(t)
	useUTC(t)
	code, _, stderr := runCLI(t, "", "dscan", "-b", "--max-sources", "16", "-L", filepath.Join(td, "dscan.suppress"), filepath.Join(td, "ft-tree"))
	if code != 0 || !strings.Contains(stderr, "sources evicted") {
		t.Fatalf("exit %d, stderr tail %q", code, stderr[max(0, len(stderr)-300):])
	}
}

// Default mode gives the same lines for every -j on the generated sample
// archive (samples/archive, checked in), and finds scans there.
func TestDscanJobsIdentityOnArchive(t *testing.T) {
	useUTC(t)
	root, _ := filepath.Abs("../..")
	archive := filepath.Join(root, "samples", "archive")
	if _, err := os.Stat(archive); err != nil {
		t.Fatalf("sample archive missing: %v", err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "dscan.suppress.src"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "dscan.suppress.dst"), nil, 0o644)
	t.Chdir(dir)
	var outs []string
	for _, j := range []string{"1", "2", "3"} {
		code, _, stderr := runCLI(t, "", "dscan", "-b", "-D", "50", "-S", "20", "-j", j, archive)
		if code != 0 {
			t.Fatalf("-j %s: exit %d %s", j, code, stderr)
		}
		outs = append(outs, stderr)
	}
	if !strings.Contains(outs[0], "host scan") && !strings.Contains(outs[0], "port scan") {
		t.Fatalf("no scan found in the sample archive:\n%.500s", outs[0])
	}
	for i := 1; i < len(outs); i++ {
		if outs[i] != outs[0] {
			t.Fatalf("-j %d differs from -j 1:\n%s", i+1, firstDiff(outs[i], outs[0]))
		}
	}
}

// v8 aggregations carry no addresses: refused as flow-dscan refuses them.
func TestDscanRefusesV8(t *testing.T) {
	td := fixture.FlowTools(t)
	in := filepath.Join(td, "formats", "v8.1.le.z6.ft")
	for _, mode := range [][]string{{"--compat"}, nil} {
		args := append(append([]string{"dscan", "-b", "-L", filepath.Join(td, "dscan.suppress")}, mode...), in)
		code, _, stderr := runCLI(t, "", args...)
		if code != 2 || !strings.Contains(stderr, "not supported") {
			t.Errorf("%q: exit %d %q, want exit 2 and 'not supported'", mode, code, stderr)
		}
	}
}
