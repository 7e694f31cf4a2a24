package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/flowsift/flowsift/ingest"
)

// writeFileAtomic writes path through a temporary file in the same
// directory and renames it, so a crash never leaves half a file.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	var s stagedFiles
	if err := s.add(path, write); err != nil {
		s.abort()
		return err
	}
	return s.commit()
}

// stagedFiles writes a set of files to temporary names and renames them
// only once every one is written: a failure or a crash while writing
// leaves the previous set whole, and the new set appears within the few
// renames of commit.
type stagedFiles struct{ tmp, final []string }

func (s *stagedFiles) add(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	s.tmp, s.final = append(s.tmp, tmp.Name()), append(s.final, path)
	if err := write(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	return os.Chmod(tmp.Name(), 0o644)
}

// commit renames every staged file into place, in the order added.
func (s *stagedFiles) commit() error {
	for i, tmp := range s.tmp {
		if err := os.Rename(tmp, s.final[i]); err != nil {
			s.tmp = s.tmp[i:]
			s.abort()
			return err
		}
	}
	s.tmp, s.final = nil, nil
	return nil
}

// abort removes the staged files not yet renamed.
func (s *stagedFiles) abort() {
	for _, tmp := range s.tmp {
		os.Remove(tmp)
	}
	s.tmp, s.final = nil, nil
}

// progressWriter is stderr when it is a terminal, else nil (cron).
func progressWriter() io.Writer {
	if f, ok := stdio.err.(*os.File); ok && ingest.IsTerminal(f) {
		return f
	}
	return nil
}
