package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowsift/flowsift/internal/fixture"
)

func TestHeaderCommandMatchesFlowHeader(t *testing.T) {
	td := fixture.FlowTools(t, "formats")
	useUTC(t)
	files, _ := filepath.Glob(filepath.Join(td, "*.ft"))
	if len(files) < 40 {
		t.Fatalf("%d fixture files", len(files))
	}
	for _, f := range files {
		want, err := os.ReadFile(f + ".header.txt")
		if err != nil {
			continue
		}
		code, out, stderr := runCLI(t, "", "header", f)
		if code != 0 || out != string(want) {
			t.Errorf("%s: exit %d %s\n got:\n%s\nwant:\n%s", filepath.Base(f), code, stderr, out, want)
		}
	}
	// Several files: each named; a bad one reported, the others printed, exit 2.
	bad := filepath.Join(t.TempDir(), "junk")
	os.WriteFile(bad, []byte("not a flow file"), 0o644)
	code, out, stderr := runCLI(t, "", "header", files[0], bad, files[1])
	if code != exitUsage || strings.Count(out, "==> ") != 3 || strings.Count(out, "# stream version:") != 2 || !strings.Contains(stderr, "junk") {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	// Standard input.
	b, _ := os.ReadFile(files[0])
	if code, out, _ := runCLI(t, string(b), "header", "-"); code != 0 || !strings.Contains(out, "# export version:") {
		t.Fatalf("stdin: exit %d %s", code, out)
	}
}
