package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestBadOptionsRefused: values no option can mean stop the command with
// exit 2 and a message naming them, before any input is read (the input
// path here does not even exist, so a run that got that far would fail
// differently), and -j means the same in every command.
func TestBadOptionsRefused(t *testing.T) {
	out := filepath.Join(t.TempDir(), "r")
	missing := filepath.Join(t.TempDir(), "no-such-archive")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"report", "--depth", "-1", "--out", out, missing}, "depth (-D) -1"},
		{[]string{"report", "--port-trigger", "-1", "--out", out, missing}, "port trigger"},
		{[]string{"report", "--top", "-1", "--out", out, missing}, "top talkers: -1 rows"},
		{[]string{"report", "-j", "0", "--out", out, missing}, "-j 0: must be at least 1"},
		{[]string{"report", "--from", "2026-11-20 12:00", "--to", "2026-11-20 11:00", "--out", out, missing}, "window ends"},
		{[]string{"report", "--detectors", "trw,magic", "--out", out, missing}, `unknown detector "magic"`},
		{[]string{"dscan", "-b", "-j", "0", missing}, "-j 0: must be at least 1"},
		{[]string{"convert", "--to", "csv", "-j", "0", missing, filepath.Join(t.TempDir(), "x.csv")}, "-j 0: must be at least 1"},
	} {
		code, _, stderr := runCLI(t, "", tc.args...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, stderr, exitUsage, tc.want)
		}
		if strings.Contains(stderr, "no-such-archive") {
			t.Errorf("%v: the input was looked at before the options were checked: %q", tc.args, stderr)
		}
	}
}
