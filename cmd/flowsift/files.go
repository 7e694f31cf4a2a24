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
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// progressWriter is stderr when it is a terminal, else nil (cron).
func progressWriter() io.Writer {
	if f, ok := stdio.err.(*os.File); ok && ingest.IsTerminal(f) {
		return f
	}
	return nil
}
