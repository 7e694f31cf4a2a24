package atomicfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// The cost of publishing a report-sized set (33 files of 20 kB) as a Dir
// (a set directory, one rename of current, the links) against renaming
// the files one by one into place (the Set alone, as before Dir).
var body = make([]byte, 20<<10)

func writeFiles(s *Set, dir string) {
	for i := range 33 {
		s.Add(filepath.Join(dir, fmt.Sprintf("f%02d.csv", i)), func(w io.Writer) error { _, err := w.Write(body); return err })
	}
}

func BenchmarkSetCommit(b *testing.B) {
	dir := b.TempDir()
	for b.Loop() {
		var s Set
		writeFiles(&s, dir)
		if err := s.Stage(); err != nil {
			b.Fatal(err)
		}
		if err := s.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDirPublish(b *testing.B) {
	out := filepath.Join(b.TempDir(), "rep")
	for b.Loop() {
		d, err := OpenDir(out)
		if err != nil {
			b.Fatal(err)
		}
		set, err := d.Stage()
		if err != nil {
			b.Fatal(err)
		}
		os.Mkdir(filepath.Join(set, "csv"), 0o755)
		var s Set
		writeFiles(&s, filepath.Join(set, "csv"))
		if err := s.Stage(); err != nil {
			b.Fatal(err)
		}
		if err := s.Commit(); err != nil {
			b.Fatal(err)
		}
		if err := d.Publish([]string{"csv"}); err != nil {
			b.Fatal(err)
		}
		d.Close()
	}
}
