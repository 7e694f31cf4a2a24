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
	near   string // the temporary files are made beside this path
	stdout io.Writer
	tmp    *os.File
	w      *ftcsv.Writer
	mask   uint64
}

// NewCSV writes flow-export CSV to the file out, or with out "-" to
// stdout once complete. A device or a named pipe given as out is written
// in place once complete, like stdout.
func NewCSV(out string, stdout io.Writer) (Writer, error) {
	near := out
	if out == "-" || atomicfile.IsStream(out) {
		near = filepath.Join(os.TempDir(), "flowsift-convert.csv")
	}
	atomicfile.SweepNear(near)
	f, err := atomicfile.TempNear(near)
	if err != nil {
		return nil, err
	}
	return &csvWriter{out: out, near: near, stdout: stdout, tmp: f}, nil
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
	f, err := atomicfile.TempNear(s.near)
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
	atomicfile.Remove(old.Name())
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
	if s.out == "-" || s.near != s.out {
		defer s.Abort()
		return copyOut(s.tmp, s.out, s.stdout)
	}
	return atomicfile.Publish(s.tmp, s.out)
}

func (s *csvWriter) Abort() {
	s.tmp.Close()
	atomicfile.Remove(s.tmp.Name())
}

// copyOut copies a finished temporary file to stdout (out "-") or to the
// stream out (a device or a named pipe), written in place.
func copyOut(tmp *os.File, out string, stdout io.Writer) error {
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if out == "-" {
		_, err := io.Copy(stdout, tmp)
		return err
	}
	return atomicfile.Write(out, func(w io.Writer) error {
		_, err := io.Copy(w, tmp)
		return err
	})
}

// parquetWriter writes one Parquet file.
type parquetWriter struct {
	out    string
	stream bool
	tmp    *os.File
	w      *parquet.Writer
}

// NewParquet writes one Parquet file; a device or a named pipe given as
// out is written in place once the file is complete.
func NewParquet(out string) (Writer, error) {
	near, stream := out, atomicfile.IsStream(out)
	if stream {
		near = filepath.Join(os.TempDir(), "flowsift-convert.parquet")
	}
	atomicfile.SweepNear(near)
	f, err := atomicfile.TempNear(near)
	if err != nil {
		return nil, err
	}
	w, err := parquet.NewWriter(f, parquet.WriterOptions{})
	if err != nil {
		f.Close()
		atomicfile.Remove(f.Name())
		return nil, err
	}
	return &parquetWriter{out: out, stream: stream, tmp: f, w: w}, nil
}

func (s *parquetWriter) Write(b flow.Batch) error { return s.w.Write(b) }

func (s *parquetWriter) Commit() error {
	if err := s.w.Close(); err != nil {
		s.Abort()
		return err
	}
	if s.stream {
		defer s.Abort()
		return copyOut(s.tmp, s.out, nil)
	}
	return atomicfile.Publish(s.tmp, s.out)
}

func (s *parquetWriter) Abort() {
	s.tmp.Close()
	atomicfile.Remove(s.tmp.Name())
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
	atomicfile.SweepNear(out)
	tmp, err := atomicfile.TempDirNear(out)
	if err != nil {
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
	n := s.parts[k]
	s.parts[k] = n + 1
	var f *os.File
	err := atomicfile.Guard(func() error {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		var err error
		f, err = os.Create(filepath.Join(dir, fmt.Sprintf("part-%05d.parquet", n)))
		return err
	})
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
	if err := atomicfile.Rename(s.tmp, s.out); err != nil {
		s.Abort()
		return err
	}
	return nil
}

func (s *partitionWriter) Abort() {
	for _, p := range s.open {
		p.f.Close()
	}
	atomicfile.Remove(s.tmp)
}
