package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowsift/flowsift/internal/fixture"
)

// --cpuprofile writes a profile go tool pprof reads (gzipped protocol
// buffers) for a run of any command, and the run's output is unchanged.
func TestCPUProfile(t *testing.T) {
	td := fixture.FlowTools(t)
	t.Chdir(t.TempDir())
	tree := filepath.Join(td, "ft-tree")
	_, want, _ := runCLI(t, "", "dscan", "-b", tree)
	prof := filepath.Join(t.TempDir(), "cpu.pprof")
	code, got, stderr := runCLI(t, "", "--cpuprofile", prof, "dscan", "-b", tree)
	if code != 0 || got != want {
		t.Fatalf("with --cpuprofile: exit %d (%s), output differs:\n%s", code, stderr, firstDiff(got, want))
	}
	b, err := os.ReadFile(prof)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("profile is not gzipped: %v", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil || len(raw) == 0 {
		t.Fatalf("profile: %d bytes, %v", len(raw), err)
	}
	// A second run may profile again: the first one stopped its profile.
	if code, _, stderr := runCLI(t, "", "--cpuprofile", prof, "dscan", "-b", tree); code != 0 {
		t.Fatalf("second profiled run: exit %d (%s)", code, stderr)
	}
}

func TestCPUProfileUnwritable(t *testing.T) {
	td := fixture.FlowTools(t)
	t.Chdir(t.TempDir())
	bad := filepath.Join(t.TempDir(), "no-such-dir", "cpu.pprof")
	code, _, stderr := runCLI(t, "", "--cpuprofile", bad, "dscan", "-b", filepath.Join(td, "ft-tree"))
	if code != exitUsage || !strings.Contains(stderr, "--cpuprofile") || !strings.Contains(stderr, "no-such-dir") {
		t.Fatalf("unwritable --cpuprofile: exit %d, %q", code, stderr)
	}
}
