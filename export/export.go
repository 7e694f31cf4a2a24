// Package export writes flows out: flow-export CSV and Parquet, one file
// or Hive-style partitions, each appearing at its path only when complete.
package export

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/ingest/ftcsv"
	"github.com/flowsift/flowsift/ingest/parquet"
	"github.com/flowsift/flowsift/internal/atomicfile"
)

// Writer is one output; nothing is visible at its path until Commit.
type Writer interface {
	Write(flow.Batch) error
	// Commit puts the output in place; Abort removes what was written.
	Commit() error
	Abort()
}

// csvWriter writes flow-export CSV. The "#:" line must name the union of the
// fields of every record, which is known only at the end; the lines go to a
// temporary file with the mask seen so far, and in the rare case a later
// record brings new fields (mixed versions) the file is rewritten once with
// the wider mask. A single input is therefore written once and renamed.
type csvWriter struct {
	out    string
	stdout io.Writer
	tmp    *os.File
	w      *ftcsv.Writer
	mask   uint64
}

// NewCSV writes flow-export CSV to the file out, or with out "-" to
// stdout once complete.
func NewCSV(out string, stdout io.Writer) (Writer, error) {
	dir := out
	if out == "-" {
		dir = filepath.Join(os.TempDir(), "flowsift-convert.csv")
	}
	f, err := atomicfile.TempNear(dir)
	if err != nil {
		return nil, err
	}
	return &csvWriter{out: out, stdout: stdout, tmp: f}, nil
}

func (s *csvWriter) Write(b flow.Batch) error {
	var m uint64
	for i := range b {
		m |= b[i].Fields
	}
	if s.w == nil || m&^s.mask != 0 {
		if err := s.widen(s.mask | m); err != nil {
			return err
		}
	}
	return s.w.Write(b)
}

// widen starts the temporary file over with a wider mask, copying the lines
// written so far (read back with the CSV reader).
func (s *csvWriter) widen(mask uint64) error {
	old := s.tmp
	f, err := atomicfile.TempNear(old.Name())
	if err != nil {
		return err
	}
	w := ftcsv.NewWriter(f, mask)
	if s.w != nil {
		if err := s.w.Flush(); err != nil {
			return err
		}
		if _, err := old.Seek(0, io.SeekStart); err != nil {
			return err
		}
		err := ftcsv.Format{Strict: true}.Decode(old.Name(), old, w.Write, func(flow.Skip) {})
		if err != nil {
			return err
		}
	}
	old.Close()
	os.Remove(old.Name())
	s.tmp, s.w, s.mask = f, w, mask
	return nil
}

func (s *csvWriter) Commit() error {
	if s.w == nil {
		s.w = ftcsv.NewWriter(s.tmp, 0) // no flows: flow-export prints "#:"
	}
	if err := s.w.Flush(); err != nil {
		s.Abort()
		return err
	}
	if s.out == "-" {
		defer s.Abort()
		if _, err := s.tmp.Seek(0, io.SeekStart); err != nil {
			return err
		}
		_, err := io.Copy(s.stdout, s.tmp)
		return err
	}
	return atomicfile.Publish(s.tmp, s.out)
}

func (s *csvWriter) Abort() {
	s.tmp.Close()
	os.Remove(s.tmp.Name())
}

// parquetWriter writes one Parquet file.
type parquetWriter struct {
	out string
	tmp *os.File
	w   *parquet.Writer
}

// NewParquet writes one Parquet file.
func NewParquet(out string) (Writer, error) {
	f, err := atomicfile.TempNear(out)
	if err != nil {
		return nil, err
	}
	w, err := parquet.NewWriter(f, parquet.WriterOptions{})
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &parquetWriter{out: out, tmp: f, w: w}, nil
}

func (s *parquetWriter) Write(b flow.Batch) error { return s.w.Write(b) }

func (s *parquetWriter) Commit() error {
	if err := s.w.Close(); err != nil {
		s.Abort()
		return err
	}
	return atomicfile.Publish(s.tmp, s.out)
}

func (s *parquetWriter) Abort() {
	s.tmp.Close()
	os.Remove(s.tmp.Name())
}

// partitionWriter writes Hive-style folders into a temporary directory next to
// OUT and renames it to OUT at the end. Flows arrive sorted by End, so a
// partition is finished once a later one starts: its file is closed then,
// which keeps at most one row group per open partition in memory. A flow for
// a partition already closed (unsorted stdin streams) opens the next part
// number in that folder.
type partitionWriter struct {
	out, tmp string
	hourly   bool
	open     map[string]*partFile
	parts    map[string]int
	last     string
}

type partFile struct {
	f *os.File
	w *parquet.Writer
}

// NewPartitioned writes Parquet files into a new directory out, in
// folders by "hour" or "day" of the flows' end.
func NewPartitioned(out, by string) (Writer, error) {
	tmp, err := os.MkdirTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-*")
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(tmp, 0o755); err != nil { // MkdirTemp makes 0700
		os.Remove(tmp)
		return nil, err
	}
	return &partitionWriter{out: out, tmp: tmp, hourly: by == "hour", open: map[string]*partFile{}, parts: map[string]int{}}, nil
}

func (s *partitionWriter) key(end int64) string {
	t := time.UnixMilli(end).UTC()
	if s.hourly {
		return t.Format("date=2006-01-02/hour=15")
	}
	return t.Format("date=2006-01-02")
}

func (s *partitionWriter) Write(b flow.Batch) error {
	for i := 0; i < len(b); {
		k := s.key(b[i].End)
		j := i + 1
		for j < len(b) && s.key(b[j].End) == k {
			j++
		}
		if k > s.last {
			// Sorted input: every partition before k is complete.
			for ok, p := range s.open {
				if ok < k {
					if err := p.close(); err != nil {
						return err
					}
					delete(s.open, ok)
				}
			}
			s.last = k
		}
		p := s.open[k]
		if p == nil {
			var err error
			if p, err = s.create(k); err != nil {
				return err
			}
			s.open[k] = p
		}
		if err := p.w.Write(b[i:j]); err != nil {
			return err
		}
		i = j
	}
	return nil
}

func (s *partitionWriter) create(k string) (*partFile, error) {
	dir := filepath.Join(s.tmp, filepath.FromSlash(k))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	n := s.parts[k]
	s.parts[k] = n + 1
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("part-%05d.parquet", n)))
	if err != nil {
		return nil, err
	}
	w, err := parquet.NewWriter(f, parquet.WriterOptions{})
	if err != nil {
		f.Close()
		return nil, err
	}
	return &partFile{f: f, w: w}, nil
}

func (p *partFile) close() error {
	if err := p.w.Close(); err != nil {
		p.f.Close()
		return err
	}
	return atomicfile.Finish(p.f)
}

func (s *partitionWriter) Commit() error {
	for k, p := range s.open {
		if err := p.close(); err != nil {
			s.Abort()
			return fmt.Errorf("%s: %w", k, err)
		}
		delete(s.open, k)
	}
	if err := os.Rename(s.tmp, s.out); err != nil {
		s.Abort()
		return err
	}
	return nil
}

func (s *partitionWriter) Abort() {
	for _, p := range s.open {
		p.f.Close()
	}
	os.RemoveAll(s.tmp)
}
