package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// A --memory budget so small that the top talkers spill after every batch
// writes the very files of the golden report made without one.
func TestReportMemoryBudgetGolden(t *testing.T) {
	useUTC(t)
	archive := filepath.Join("..", "..", "samples", "archive")
	t.Setenv("TMPDIR", t.TempDir())
	compareGolden(t, "samples", reportDir(t, "-j", "2", "--memory", "4", sampleLocal, archive))
}

func TestReportMemoryOption(t *testing.T) {
	for _, v := range []string{"lots", "-1G", "1X"} {
		code, _, stderr := runCLI(t, "", "report", "--memory", v, "-o", "-", filepath.Join("..", "..", "samples", "archive"))
		if code != exitUsage || !strings.Contains(stderr, "--memory") {
			t.Errorf("--memory %s: exit %d, %q; want %d naming --memory", v, code, stderr, exitUsage)
		}
	}
}
