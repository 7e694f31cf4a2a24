package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A --memory budget so small that the top talkers spill after every batch
// writes the talker tables of the golden report made without one, byte
// for byte. (TRW forgets early under such a budget, so the scanners may
// differ; the pass's tests check that part.)
func TestReportMemoryBudgetGolden(t *testing.T) {
	useUTC(t)
	archive := filepath.Join("..", "..", "samples", "archive")
	t.Setenv("TMPDIR", t.TempDir())
	files := reportDir(t, "-j", "2", "--memory", "4", sampleLocal, archive)
	n := 0
	for rel, b := range files {
		if !strings.HasPrefix(rel, filepath.Join("csv", "talkers_")) {
			continue
		}
		n++
		want, err := os.ReadFile(filepath.Join("testdata", "report", "samples", rel))
		if err != nil || !bytes.Equal(b, want) {
			t.Errorf("%s differs from the golden report under --memory 4 (%v)", rel, err)
		}
	}
	if n != 21 {
		t.Fatalf("%d talker tables, want 21", n)
	}
	if ents, _ := os.ReadDir(os.Getenv("TMPDIR")); len(ents) != 0 {
		t.Errorf("%d files left in TMPDIR", len(ents))
	}
}

func TestReportMemoryOption(t *testing.T) {
	for _, v := range []string{"lots", "-1G", "1X"} {
		code, _, stderr := runCLI(t, "", "report", "--memory", v, "-o", "-", filepath.Join("..", "..", "samples", "archive"))
		if code != exitUsage || !strings.Contains(stderr, "--memory") {
			t.Errorf("--memory %s: exit %d, %q; want %d naming --memory", v, code, stderr, exitUsage)
		}
	}
}
