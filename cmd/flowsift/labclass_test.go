package main

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"testing"
)

// The lab capture's scans rank by what they found (testdata/lab: real
// nmap runs through softflowd and flow-capture; the scenarios are in its
// README): the SYN scans that reached open ports (S1, S2, S5), the
// connect scan (S3), the UDP scan (S4), the ping sweep (S6) and the
// password guessing (S7) are outside scans that got answers; the tcp/445
// sweeps of address space with no SMB server (S8) are background
// radiation.
func TestLabScansRankByAnswers(t *testing.T) {
	out := t.TempDir()
	code, _, stderr := runCLI(t, "", "report", "--local", "10.77.8.0/22,10.77.20.0/24,fd77:8::/64",
		"--generated-at", "2026-11-22T00:00:00Z", "--out", out, filepath.Join("..", "..", "testdata", "lab", "ft"))
	if code != 0 {
		t.Fatalf("report: exit %d: %s", code, stderr)
	}
	f, err := os.Open(filepath.Join(out, "csv", "scanners.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	class := map[string]string{}
	for _, r := range rows[1:] {
		class[r[col["src"]]] = r[col["class"]]
	}
	for src, want := range map[string]string{
		"10.77.1.66": "answered", "10.77.2.99": "answered", "10.77.5.55": "answered",
		"10.77.3.33": "answered", "10.77.4.44": "answered", "10.77.6.66": "answered", "10.77.7.77": "answered",
		"10.77.13.13": "background", "10.77.14.14": "background", "10.77.15.15": "background",
	} {
		if class[src] != want {
			t.Errorf("%s: class %q, want %q", src, class[src], want)
		}
	}
}
