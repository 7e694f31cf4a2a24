// Package sharedfix finds, for tests, the fixtures written by the real
// flow-tools programs: the folder shared/ beside the repository. Tests that
// need them skip where they are absent (a clone on its own).
package sharedfix

import (
	"os"
	"path/filepath"
	"testing"
)

// Root is <repository root>/../shared, or "" when it is absent. The
// repository root is the nearest folder above the working directory that
// holds go.mod.
func Root() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		up := filepath.Dir(dir)
		if up == dir {
			return ""
		}
		dir = up
	}
	s := filepath.Join(filepath.Dir(dir), "shared")
	if _, err := os.Stat(filepath.Join(s, "testdata", "README.md")); err != nil {
		return ""
	}
	return s
}

// Dir is Root, or skips t when the fixtures are absent.
func Dir(t testing.TB) string {
	t.Helper()
	s := Root()
	if s == "" {
		t.Skip("shared fixtures (<repository>/../shared) absent")
	}
	return s
}

// Testdata is Dir's testdata folder.
func Testdata(t testing.TB) string {
	t.Helper()
	return filepath.Join(Dir(t), "testdata")
}
