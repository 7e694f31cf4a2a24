package main

import (
	"os"
	"path/filepath"
	"testing"
)

// sharedDir is ../shared beside the repository (fixtures made by the real
// flow-tools). Tests that need it skip where it is absent.
func sharedDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("repository root not found")
		}
		dir = parent
	}
	s := filepath.Join(filepath.Dir(dir), "shared")
	if _, err := os.Stat(filepath.Join(s, "testdata", "README.md")); err != nil {
		t.Skipf("shared fixtures not found at %s", s)
	}
	return s
}
