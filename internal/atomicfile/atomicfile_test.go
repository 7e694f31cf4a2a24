package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// TestStagedFilesAllOrNothing: files are written side by side, but a set
// with a failing file leaves the directory as it was (no file replaced,
// no temporary file left) and reports the first failure in the order the
// files were added; a set that writes whole appears whole.
func TestStagedFilesAllOrNothing(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f0"), []byte("previous"), 0o644)
	errA, errB := errors.New("disk full at f3"), errors.New("disk full at f6")
	var s Set
	for i := 0; i < 10; i++ {
		s.Add(filepath.Join(dir, fmt.Sprint("f", i)), func(w io.Writer) error {
			fmt.Fprintf(w, "file %d\n", i)
			switch i {
			case 3:
				return errA
			case 6:
				return errB
			}
			return nil
		})
	}
	if err := s.Stage(); !errors.Is(err, errA) || !strings.Contains(err.Error(), "write "+filepath.Join(dir, "f3")+" ") {
		t.Fatalf("Stage: %v, want the error of f3, naming it", err)
	}
	if got := dirNames(t, dir); !slices.Equal(got, []string{"f0"}) {
		t.Fatalf("after a failed set the directory holds %v", got)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "f0")); string(b) != "previous" {
		t.Fatalf("f0 replaced: %q", b)
	}

	for i := 0; i < 10; i++ {
		s.Add(filepath.Join(dir, fmt.Sprint("f", i)), func(w io.Writer) error {
			_, err := fmt.Fprintf(w, "file %d\n", i)
			return err
		})
	}
	if err := s.Stage(); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := dirNames(t, dir); len(got) != 10 {
		t.Fatalf("directory holds %v, want f0..f9 only", got)
	}
	for i := 0; i < 10; i++ {
		p := filepath.Join(dir, fmt.Sprint("f", i))
		b, _ := os.ReadFile(p)
		st, _ := os.Stat(p)
		if string(b) != fmt.Sprintf("file %d\n", i) || st.Mode().Perm() != 0o644 {
			t.Errorf("%s: %q, mode %v", p, b, st.Mode().Perm())
		}
	}
}
