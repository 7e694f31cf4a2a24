package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowsift/flowsift/samples"
)

func TestSamplesCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tree")
	args := []string{"samples", "--out", dir, "--flows", "20000", "--seed", "3", "--hours", "2"}
	code, out, errs := runCLI(t, "", args...)
	if code != 0 || !strings.Contains(out, "wrote 20000 flows to "+dir) {
		t.Fatalf("code %d, out %q, err %q", code, out, errs)
	}
	truth, err := samples.ReadTruth(dir + ".truth.json")
	if err != nil || truth.Flows != 20000 || truth.Seed != 3 || len(truth.Events) == 0 {
		t.Fatalf("truth %+v, %v", truth, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "2026", "2026-11", "2026-11-20", "ft-v05.2026-11-20.000000+0000")); err != nil {
		t.Fatal(err)
	}
	// A second run must not silently overwrite the tree.
	if code, _, errs := runCLI(t, "", args...); code != 2 || !strings.Contains(errs, "--force") {
		t.Fatalf("non-empty --out: code %d, err %q", code, errs)
	}
	if code, _, errs := runCLI(t, "", append(args, "--force")...); code != 0 {
		t.Fatalf("--force: code %d, err %q", code, errs)
	}
	pdir := filepath.Join(t.TempDir(), "p")
	if code, _, errs := runCLI(t, "", "samples", "--out", pdir, "--flows", "20000", "--hours", "1", "--partial"); code != 0 {
		t.Fatalf("--partial: code %d, err %q", code, errs)
	}
	if tr, err := samples.ReadTruth(pdir + ".truth.json"); err != nil || !strings.Contains(tr.Partial, "/tmp-v05.2026-11-20.") {
		t.Fatalf("--partial truth %+v, %v", tr, err)
	}
	if code, _, _ := runCLI(t, "", "samples", "--out", dir+"x", "--start", "yesterday"); code != 2 {
		t.Fatalf("bad --start: code %d", code)
	}
}
