package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowsift/flowsift/ingest"
)

// screen is what a terminal shows after the bytes b: \r goes back to the
// start of the line, ESC [K clears to its end, \n starts a new one.
func screen(b string) []string {
	var lines []string
	line := []rune{}
	col := 0
	for i := 0; i < len(b); {
		switch {
		case strings.HasPrefix(b[i:], "\033[K"):
			line = line[:col]
			i += 3
			continue
		case b[i] == '\r':
			col = 0
		case b[i] == '\n':
			lines = append(lines, string(line))
			line, col = line[:0:0], 0
		default:
			r := []rune(b[i : i+1])[0]
			if col < len(line) {
				line[col] = r
			} else {
				line = append(line, r)
			}
			col++
		}
		i++
	}
	if len(line) > 0 {
		lines = append(lines, string(line))
	}
	return lines
}

// runTerm runs the CLI with standard error as a terminal.
func runTerm(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"flowsift"}, args...), strings.NewReader(""), &out, ingest.NewTerm(&errb))
	return code, errb.String()
}

// On a terminal: the progress and the phases after the pass show on the
// status line, alert lines never share a line with it, and a report that
// succeeds ends with one line saying where it went and what it found;
// the status line is gone at the end. Off a terminal (cron) standard
// error stays empty.
func TestTerminalProgressAndFinalLine(t *testing.T) {
	archive := filepath.Join("..", "..", "samples", "archive")
	dir := filepath.Join(t.TempDir(), "rep")
	code, raw := runTerm(t, "report", sampleLocal, "--out", dir, archive)
	if code != 0 {
		t.Fatalf("exit %d: %q", code, raw)
	}
	for _, want := range []string{"files 25/25  flows 50,000", "finishing the analysis", "building the report", "writing the report"} {
		if !strings.Contains(raw, want) {
			t.Errorf("status never showed %q: %q", want, raw)
		}
	}
	lines := screen(raw)
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "flowsift: report in "+dir+"/: 3 local hosts scanning, 0 outside scans answered, ") {
		t.Errorf("screen at the end: %q", lines)
	}

	// dscan prints alert lines while the progress shows.
	code, raw = runTerm(t, "dscan", "-b", archive)
	if code != 0 {
		t.Fatalf("dscan exit %d", code)
	}
	lines = screen(raw)
	alerts := 0
	for _, l := range lines {
		if strings.Contains(l, "files ") && strings.Contains(l, "flowsift") || strings.Contains(l, "files ") && strings.Contains(l, "scan") {
			t.Errorf("alert and progress on one line: %q", l)
		}
		if strings.Contains(l, "host scan") || strings.Contains(l, "port scan") {
			alerts++
		}
	}
	if alerts == 0 {
		t.Errorf("no alert lines on the screen: %q", lines)
	}

	// Not a terminal: nothing on standard error.
	code, _, stderr := runCLI(t, "", "report", sampleLocal, "--out", filepath.Join(t.TempDir(), "r"), archive)
	if code != 0 || stderr != "" {
		t.Errorf("off a terminal: exit %d, stderr %q", code, stderr)
	}
}
