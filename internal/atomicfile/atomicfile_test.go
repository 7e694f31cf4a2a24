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

// TestStagedFilesOwnBytes: more files than are written at once, some
// larger than a write buffer and some empty, written side by side in
// pieces: each comes out with exactly its own bytes.
func TestStagedFilesOwnBytes(t *testing.T) {
	dir := t.TempDir()
	var s Set
	want := map[string][]byte{}
	for i := range 5 * stageJobs {
		b := make([]byte, (i*37%7)*(64<<10)/3) // 0 to twice a 64 KiB buffer
		for j := range b {
			b[j] = byte('a' + (i+j/1000)%26)
		}
		p := filepath.Join(dir, fmt.Sprint("f", i))
		want[p] = b
		s.Add(p, func(w io.Writer) error {
			// In pieces, as the renderers write.
			for k := 0; k < len(b); k += 5000 {
				if _, err := w.Write(b[k:min(k+5000, len(b))]); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := s.Stage(); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	for p, b := range want {
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, b) {
			t.Errorf("%s: %d bytes, want its own %d", filepath.Base(p), len(got), len(b))
		}
	}
}
