package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func writeSet(t *testing.T, d *Dir, files map[string]string) {
	t.Helper()
	set, err := d.Stage()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for n, body := range files {
		p := filepath.Join(set, n)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if top, _, _ := cutFirst(n); !slices.Contains(names, top) {
			names = append(names, top)
		}
	}
	if err := d.Publish(names); err != nil {
		t.Fatal(err)
	}
}

func cutFirst(p string) (string, string, bool) {
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			return p[:i], p[i+1:], true
		}
	}
	return p, "", false
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(b)
}

// A Dir publishes each set whole through DIR/current and the links beside
// it, replaces an older flowsift's plain files and csv/ directory, drops
// links to formats no longer written, keeps one set, and a second process
// cannot open it while the first holds it.
func TestDirPublishesWholeSets(t *testing.T) {
	root := t.TempDir()
	out := filepath.Join(root, "a", "rep")
	// The layout of flowsift before sets: plain files.
	os.MkdirAll(filepath.Join(out, "csv"), 0o755)
	os.WriteFile(filepath.Join(out, "report.html"), []byte("legacy"), 0o644)
	os.WriteFile(filepath.Join(out, "csv", "scanners.csv"), []byte("legacy"), 0o644)
	// Leftovers of a killed older flowsift: an old one goes, a recent one
	// (its writer may still run) stays.
	old, recent := filepath.Join(out, ".report.md.tmp-123456"), filepath.Join(out, ".report.json.tmp-654321")
	os.WriteFile(old, nil, 0o644)
	os.WriteFile(recent, nil, 0o644)
	os.Chtimes(old, time.Now().Add(-time.Hour), time.Now().Add(-time.Hour))

	d, err := OpenDir(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenDir(out); !errors.Is(err, ErrBusy) {
		t.Fatalf("second OpenDir while held: %v, want ErrBusy", err)
	}
	writeSet(t, d, map[string]string{"report.html": "one", "report.json": "one", "csv/scanners.csv": "one"})
	d.Close()
	if _, err := os.Stat(old); err == nil {
		t.Error("an hour-old leftover of an older flowsift was not removed")
	}
	if _, err := os.Stat(recent); err != nil {
		t.Error("a recent leftover of an older flowsift was removed")
	}
	for _, n := range []string{"report.html", "report.json", "csv/scanners.csv"} {
		if got := read(t, filepath.Join(out, n)); got != "one" {
			t.Errorf("%s: %q after the first set", n, got)
		}
	}

	d, err = OpenDir(out)
	if err != nil {
		t.Fatal(err)
	}
	writeSet(t, d, map[string]string{"report.html": "two", "csv/scanners.csv": "two"})
	d.Close()
	if got := read(t, filepath.Join(out, "report.html")) + read(t, filepath.Join(out, "csv", "scanners.csv")); got != "twotwo" {
		t.Errorf("second set reads %q", got)
	}
	if _, err := os.Lstat(filepath.Join(out, "report.json")); err == nil {
		t.Error("report.json link left pointing at nothing")
	}
	os.Remove(recent)
	if got := dirNames(t, out); !slices.Equal(got, []string{DirMeta, "csv", "current", "report.html"}) {
		t.Errorf("out holds %v", got)
	}
	if got := dirNames(t, filepath.Join(out, DirMeta)); len(got) != 2 {
		t.Errorf(".flowsift holds %v, want the lock and one set", got)
	}

	// A run that stages and fails publishes nothing and leaves nothing.
	d, _ = OpenDir(out)
	set, _ := d.Stage()
	os.WriteFile(filepath.Join(set, "report.html"), []byte("three"), 0o644)
	d.Close()
	if got := read(t, filepath.Join(out, "report.html")); got != "two" {
		t.Errorf("a failed run changed report.html to %q", got)
	}
	if got := dirNames(t, filepath.Join(out, DirMeta)); len(got) != 2 {
		t.Errorf(".flowsift holds %v after a failed run", got)
	}

	// A directory made for a run that never published is removed again.
	fresh := filepath.Join(root, "b", "c")
	d, err = OpenDir(fresh)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	if _, err := os.Stat(filepath.Join(root, "b")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unpublished run left %s: %v", filepath.Join(root, "b"), err)
	}
}
