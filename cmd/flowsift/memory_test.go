package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
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

// A run whose top talkers spilled says so among its settings (summary
// table, JSON): how often, how many bytes, into how many partitions. A
// run that fit in memory has no such line.
func TestReportSaysTalkersSpilled(t *testing.T) {
	useUTC(t)
	archive := filepath.Join("..", "..", "samples", "archive")
	t.Setenv("TMPDIR", t.TempDir())
	spilled := regexp.MustCompile(`(?m)^top talkers spilled,"(once|[0-9,]+ times) to stay within --memory: ([0-9,]+) bytes \([0-9.]+ MiB\) into 64 hash partitions in temporary files, removed; the counts are exact"$`)
	files := reportDir(t, "--memory", "4", "--format", "csv,json", sampleLocal, archive)
	m := spilled.FindSubmatch(files[filepath.Join("csv", "summary.csv")])
	if m == nil {
		t.Fatalf("summary.csv under --memory 4 has no spill line:\n%s", files[filepath.Join("csv", "summary.csv")])
	}
	if string(m[2]) == "0" {
		t.Errorf("spilled 0 bytes: %s", m[0])
	}
	if !bytes.Contains(files["report.json"], []byte(`"name": "top talkers spilled"`)) {
		t.Errorf("report.json has no spill setting")
	}
	files = reportDir(t, "--format", "csv", sampleLocal, archive)
	if bytes.Contains(files[filepath.Join("csv", "summary.csv")], []byte("top talkers spilled")) {
		t.Errorf("a run within the default --memory says it spilled")
	}
}

// --huge-pages changes what backs the heap faulted in before the pass,
// never the report: on and off both write the golden report. A value
// other than auto, on or off is a usage error naming the option.
func TestReportHugePages(t *testing.T) {
	useUTC(t)
	archive := filepath.Join("..", "..", "samples", "archive")
	for _, v := range []string{"on", "off"} {
		t.Run(v, func(t *testing.T) {
			compareGolden(t, "samples", reportDir(t, "-j", "2", "--huge-pages", v, sampleLocal, archive))
		})
	}
	code, _, stderr := runCLI(t, "", "report", "--huge-pages", "always", "-o", "-", archive)
	if code != exitUsage || !strings.Contains(stderr, "--huge-pages") {
		t.Errorf("--huge-pages always: exit %d, %q; want %d naming --huge-pages", code, stderr, exitUsage)
	}
}
