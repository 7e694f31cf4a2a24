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
	tmp, err := tempNear(path)
	if err != nil {
		return err
	}
	s.tmp, s.final = append(s.tmp, tmp.Name()), append(s.final, path)
	if err := write(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	return finish(tmp)
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

// tempNear creates a temporary file in the directory of path so that the
// final rename stays on one file system.
func tempNear(path string) (*os.File, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, err
	}
	// CreateTemp makes 0600; the result is an ordinary output file.
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return f, nil
}

// finish syncs and closes a temporary file, so that once renamed it holds
// all its bytes even after a crash.
func finish(f *os.File) error {
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", f.Name(), err)
	}
	return nil
}

// publish finishes the temporary file f and renames it to path; on a
// failure f is removed.
func publish(f *os.File, path string) error {
	err := finish(f)
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// progressWriter is stderr when it is a terminal, else nil (cron).
func progressWriter() io.Writer {
	if f, ok := stdio.err.(*os.File); ok && ingest.IsTerminal(f) {
		return f
	}
	return nil
}
