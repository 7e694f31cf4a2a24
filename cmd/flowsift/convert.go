package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/ingest"
	"github.com/flowsift/flowsift/ingest/ftcsv"
	"github.com/flowsift/flowsift/ingest/parquet"
)

func init() {
	register(&cli.Command{
		Name:  "convert",
		Usage: "convert flows to Parquet or flow-export CSV",
		UsageText: `flowsift convert --to parquet|csv [--partition hour|day] [-j N] [--include-partial]
    [--from T] [--until T] [--tz ZONE] [--nfdump-tz ZONE] [--strict] [--compat-byte-order] INPUT... OUT

Reads every INPUT as the other commands do (flow-tools files and trees, flow-export
and nfdump CSV, Parquet; - for a flow-tools stream on stdin), in time order, and
writes OUT. CSV: OUT is a file or - for stdout; the columns are the union of the
fields the inputs have, in flow-export -f2's format (byte-identical for one
flow-tools file). Parquet: OUT is a file, or with --partition a new directory
of Hive-style date=YYYY-MM-DD[/hour=HH]/part-NNNNN.parquet folders by flow end
(UTC). OUT appears only when the conversion is complete.
--from/--until select files by the time in their names and flows by end time.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "to", Usage: "output format: parquet or csv"},
			&cli.StringFlag{Name: "partition", Usage: "parquet only: hour or day folders (OUT is a directory)"},
			&cli.IntFlag{Name: "j", Aliases: []string{"jobs"}, Usage: "decoding goroutines (default: all cores); never changes the output"},
			&cli.BoolFlag{Name: "include-partial", Usage: "read tmp- files of a capture in progress"},
			&cli.StringFlag{Name: "from", Usage: "window start (RFC 3339, or YYYY-MM-DD[ HH:MM[:SS]] in --tz)"},
			&cli.StringFlag{Name: "until", Usage: "window end, exclusive (same forms as --from)"},
			&cli.StringFlag{Name: "tz", Value: "UTC", Usage: "zone for --from/--until without offset"},
			&cli.BoolFlag{Name: "strict", Usage: "a bad CSV row (or any skipped input) is fatal: nothing is written, exit 2"},
			&cli.StringFlag{Name: "nfdump-tz", Value: "UTC", Usage: "zone nfdump printed its CSV times in (it uses the local zone of the machine that ran it)"},
			&cli.BoolFlag{Name: "compat-byte-order", Usage: "read big-endian v1005/v8.12 as flow-tools 0.68 on a little-endian host does"},
		},
		Action: convertAction,
	})
}

type convertOpts struct {
	to, partition string
	from, until   time.Time
	nfdumpZone    *time.Location
	inputs        []string
	out           string
}

func parseConvert(c *cli.Command) (*convertOpts, error) {
	o := &convertOpts{to: c.String("to"), partition: c.String("partition")}
	switch o.to {
	case "parquet", "csv":
	case "":
		return nil, usageErr("convert: --to parquet|csv is required")
	default:
		return nil, usageErr("convert: --to %q: want parquet or csv", o.to)
	}
	switch o.partition {
	case "", "hour", "day":
	default:
		return nil, usageErr("convert: --partition %q: want hour or day", o.partition)
	}
	if o.partition != "" && o.to != "parquet" {
		return nil, usageErr("convert: --partition needs --to parquet")
	}
	if c.Int("j") < 0 {
		return nil, usageErr("convert: -j must be at least 1")
	}
	zone, err := time.LoadLocation(c.String("tz"))
	if err != nil {
		return nil, usageErr("convert: --tz: %v", err)
	}
	if o.nfdumpZone, err = time.LoadLocation(c.String("nfdump-tz")); err != nil {
		return nil, usageErr("convert: --nfdump-tz: %v", err)
	}
	if s := c.String("from"); s != "" {
		if o.from, err = parseWhen(s, zone); err != nil {
			return nil, usageErr("convert: --from: %v", err)
		}
	}
	if s := c.String("until"); s != "" {
		if o.until, err = parseWhen(s, zone); err != nil {
			return nil, usageErr("convert: --until: %v", err)
		}
	}
	if !o.from.IsZero() && !o.until.IsZero() && !o.until.After(o.from) {
		return nil, usageErr("convert: --until must be after --from")
	}
	args := c.Args().Slice()
	if len(args) < 2 {
		return nil, usageErr("convert: need INPUT... OUT")
	}
	o.inputs, o.out = args[:len(args)-1], args[len(args)-1]
	if o.out == "-" && o.to == "parquet" {
		return nil, usageErr("convert: Parquet cannot be written to stdout; give a file")
	}
	if o.partition != "" {
		if _, err := os.Stat(o.out); err == nil {
			return nil, usageErr("convert: %s exists; a partitioned output must be a new directory", o.out)
		}
	}
	return o, nil
}

func convertAction(ctx context.Context, c *cli.Command) error {
	o, err := parseConvert(c)
	if err != nil {
		return err
	}
	var out convertSink
	switch {
	case o.to == "csv":
		out, err = newCSVSink(o.out)
	case o.partition != "":
		out, err = newPartitionSink(o.out, o.partition)
	default:
		out, err = newParquetFileSink(o.out)
	}
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("convert: %w", err))
	}
	fromMS, untilMS := o.from.UnixMilli(), o.until.UnixMilli()
	window := !o.from.IsZero() || !o.until.IsZero()
	var sel flow.Batch
	sum, err := ingest.Run(ctx, o.inputs, ingest.Options{Jobs: c.Int("j"), IncludePartial: c.Bool("include-partial"),
		Strict: c.Bool("strict"), CompatByteOrder: c.Bool("compat-byte-order"), NfdumpZone: o.nfdumpZone, From: o.from, To: o.until,
		Stdin: stdio.in, Progress: progressWriter()}, func(b flow.Batch) error {
		if window {
			sel = sel[:0]
			for i := range b {
				if (o.from.IsZero() || b[i].End >= fromMS) && (o.until.IsZero() || b[i].End < untilMS) {
					sel = append(sel, b[i])
				}
			}
			b = sel
		}
		return out.write(b)
	})
	if err != nil {
		out.abort()
		return withCode(exitUsage, fmt.Errorf("convert: %w", err))
	}
	if c.Bool("strict") && sum.Partial() {
		// ingest makes a bad row fatal for its file only; for convert,
		// --strict means no output from incomplete input.
		out.abort()
		fmt.Fprint(stdio.err, "flowsift: run summary: ")
		sum.WriteText(stdio.err)
		return withCode(exitUsage, fmt.Errorf("convert: --strict: input skipped, %s not written", o.out))
	}
	if err := out.commit(); err != nil {
		return withCode(exitUsage, fmt.Errorf("convert: %w", err))
	}
	if sum.Partial() {
		fmt.Fprint(stdio.err, "flowsift: run summary: ")
		sum.WriteText(stdio.err)
		return withCode(exitPartial, nil)
	}
	return nil
}

// convertSink is one output; nothing is visible at OUT until commit.
type convertSink interface {
	write(flow.Batch) error
	commit() error
	abort()
}

// csvSink writes flow-export CSV. The "#:" line must name the union of the
// fields of every record, which is known only at the end; the lines go to a
// temporary file with the mask seen so far, and in the rare case a later
// record brings new fields (mixed versions) the file is rewritten once with
// the wider mask. A single input is therefore written once and renamed.
type csvSink struct {
	out  string
	tmp  *os.File
	w    *ftcsv.Writer
	mask uint64
}

func newCSVSink(out string) (*csvSink, error) {
	dir := out
	if out == "-" {
		dir = filepath.Join(os.TempDir(), "flowsift-convert.csv")
	}
	f, err := tempNear(dir)
	if err != nil {
		return nil, err
	}
	return &csvSink{out: out, tmp: f}, nil
}

func (s *csvSink) write(b flow.Batch) error {
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
func (s *csvSink) widen(mask uint64) error {
	old := s.tmp
	f, err := tempNear(old.Name())
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

func (s *csvSink) commit() error {
	if s.w == nil {
		s.w = ftcsv.NewWriter(s.tmp, 0) // no flows: flow-export prints "#:"
	}
	if err := s.w.Flush(); err != nil {
		s.abort()
		return err
	}
	if s.out == "-" {
		defer s.abort()
		if _, err := s.tmp.Seek(0, io.SeekStart); err != nil {
			return err
		}
		_, err := io.Copy(stdio.out, s.tmp)
		return err
	}
	return publish(s.tmp, s.out)
}

func (s *csvSink) abort() {
	s.tmp.Close()
	os.Remove(s.tmp.Name())
}

// parquetFileSink writes one Parquet file.
type parquetFileSink struct {
	out string
	tmp *os.File
	w   *parquet.Writer
}

func newParquetFileSink(out string) (*parquetFileSink, error) {
	f, err := tempNear(out)
	if err != nil {
		return nil, err
	}
	w, err := parquet.NewWriter(f, parquet.WriterOptions{})
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &parquetFileSink{out: out, tmp: f, w: w}, nil
}

func (s *parquetFileSink) write(b flow.Batch) error { return s.w.Write(b) }

func (s *parquetFileSink) commit() error {
	if err := s.w.Close(); err != nil {
		s.abort()
		return err
	}
	return publish(s.tmp, s.out)
}

func (s *parquetFileSink) abort() {
	s.tmp.Close()
	os.Remove(s.tmp.Name())
}

// partitionSink writes Hive-style folders into a temporary directory next to
// OUT and renames it to OUT at the end. Flows arrive sorted by End, so a
// partition is finished once a later one starts: its file is closed then,
// which keeps at most one row group per open partition in memory. A flow for
// a partition already closed (unsorted stdin streams) opens the next part
// number in that folder.
type partitionSink struct {
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

func newPartitionSink(out, by string) (*partitionSink, error) {
	tmp, err := os.MkdirTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-*")
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(tmp, 0o755); err != nil { // MkdirTemp makes 0700
		os.Remove(tmp)
		return nil, err
	}
	return &partitionSink{out: out, tmp: tmp, hourly: by == "hour", open: map[string]*partFile{}, parts: map[string]int{}}, nil
}

func (s *partitionSink) key(end int64) string {
	t := time.UnixMilli(end).UTC()
	if s.hourly {
		return t.Format("date=2006-01-02/hour=15")
	}
	return t.Format("date=2006-01-02")
}

func (s *partitionSink) write(b flow.Batch) error {
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

func (s *partitionSink) create(k string) (*partFile, error) {
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
	return finish(p.f)
}

func (s *partitionSink) commit() error {
	for k, p := range s.open {
		if err := p.close(); err != nil {
			s.abort()
			return fmt.Errorf("%s: %w", k, err)
		}
		delete(s.open, k)
	}
	if err := os.Rename(s.tmp, s.out); err != nil {
		s.abort()
		return err
	}
	return nil
}

func (s *partitionSink) abort() {
	for _, p := range s.open {
		p.f.Close()
	}
	os.RemoveAll(s.tmp)
}
