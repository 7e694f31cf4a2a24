package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// runCLI runs the real CLI in-process and returns exit code, stdout, stderr.
func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"flowsift"}, args...), strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "", "--version")
	if code != 0 || !strings.Contains(out, version) {
		t.Fatalf("--version: code %d, out %q", code, out)
	}
}

func TestUnknownCommandIsUsageError(t *testing.T) {
	code, _, _ := runCLI(t, "", "--no-such-flag")
	if code != exitUsage {
		t.Fatalf("unknown flag: code %d, want %d", code, exitUsage)
	}
}
