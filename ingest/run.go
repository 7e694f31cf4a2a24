package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/flowsift/flowsift/flow"
)

// Options control what Run reads and how.
type Options struct {
	Jobs           int  // decoding goroutines; 0 = runtime.NumCPU()
	IncludePartial bool // read tmp- files found in trees
	// From and To (zero = open) select the files that can hold flows
	// ending in [From, To): a file starting at T (the time in its name,
	// else the flow-tools header's CAP_START) covers the exports of
	// [T, T'), T' being the start of the next file of its directory
	// argument (T + 15 minutes for the last one and for a file named on
	// the command line), so it holds flows ending in [T - ExportDelay, T')
	// and is read when that overlaps [From, To). Files with no time at all
	// (CSV, Parquet, streams) are always read. Flows themselves are not
	// filtered here (the caller keeps those of its window).
	From, To time.Time
	// Strict stops the run at the first input not read whole (a bad row,
	// a damaged or unreadable file: any skip that makes the run partial);
	// Run then returns a *StrictError.
	Strict          bool
	CompatByteOrder bool      // reproduce flow-tools 0.68's big-endian misreads
	Lookahead       int       // files decoded ahead of the merge point; 0 = max(Jobs, 2)
	Progress        io.Writer // progress bar destination; nil = none
	Stdin           io.Reader // read for the path "-"
	BatchSize       int       // records per sink call; 0 = 4096
	// NfdumpZone is the zone nfdump printed its CSV times in (nfdump uses
	// the local zone of the machine that ran it); nil = UTC.
	NfdumpZone *time.Location
	// ExportDelay bounds how long before its file's capture start a flow
	// may end: an exporter sends a flow some time after its last packet,
	// so a flow-capture file named T holds flows that ended a little
	// before T. Windows read the neighbouring files by it, and the merge
	// starts a file once the merge point comes within it of the file's
	// start; 0 = DefaultExportDelay, negative = none (a file holds no
	// flow that ended before its start).
	ExportDelay time.Duration
	// Reorder is how many records out of End order a file may be and
	// still be merged exactly; 0 = DefaultReorder.
	Reorder int
	// RequireAddresses drops the records without source and destination
	// addresses (v8 aggregations), with a "no-addresses" skip: detectors
	// need them.
	RequireAddresses bool
	// Planned, if set, is called once, before any input is decoded, with
	// the size in bytes of the regular files to read (streams count
	// nothing): the report sizes its heap by it.
	Planned func(bytes int64)
}

// DefaultExportDelay is Options.ExportDelay's default: NetFlow exporters
// send a flow within seconds of its end (inactive timeout 15 s; a long
// flow at its active timeout, with its last packet just before), so 15
// minutes, one flow-capture period, leaves a wide margin.
const DefaultExportDelay = 15 * time.Minute

// DefaultReorder is Options.Reorder's default: 32,768 records (8 MiB)
// held per file in play.
const DefaultReorder = 32768

func (o Options) jobs() int {
	if o.Jobs > 0 {
		return o.Jobs
	}
	return runtime.NumCPU()
}

func (o Options) lookahead() int {
	if o.Lookahead > 0 {
		return o.Lookahead
	}
	// Each file ahead holds a reorder window (8 MiB): max(2*Jobs, 4)
	// peaked at 230 MB on a 16M-flow tree, this at 180 MB, with the same
	// CPU time at -j 2.
	return max(o.jobs(), 2)
}

func (o Options) exportDelay() time.Duration {
	switch {
	case o.ExportDelay < 0:
		return 0
	case o.ExportDelay > 0:
		return o.ExportDelay
	}
	return DefaultExportDelay
}

func (o Options) reorder() int {
	if o.Reorder > 0 {
		return o.Reorder
	}
	return DefaultReorder
}

// Run reads paths and hands sink the flows as one stable sort by End over
// every input, ties broken by file order (command-line order; in a tree,
// capture-start order) and then by record order. Output is identical for
// every Jobs.
//
// Files are scheduled by capture start across all paths, so the trees of
// several routers interleave as flow-merge interleaves them, and each file
// is decoded in chunks as the merge needs it (see merge.go). Memory is
// bounded by the files in play, never by the size of one: a file holds at
// most Reorder records plus a few chunks of 4,096, and the files in play
// are those whose flows reach the merge point (one or two per router in a
// flow-capture archive) plus Lookahead decoded ahead and Jobs more being
// decoded, whatever the archive's or a file's size.
//
// Exactness: a flow is emitted only when no file in play holds an earlier
// one and no file not yet started may: a file named T is taken to hold no
// flow ending before T - ExportDelay (files without a time: none before
// the first flow of the files started ahead of them, Lookahead of them),
// and a file is taken to be in End order within Reorder records. A flow
// beyond either bound is still replayed, late (where the merge stands),
// and the summary counts it under "out-of-order", which does not make the
// run partial.
//
// sink must not keep a batch, or write to it, after it returns: batches are
// reused and may point into a decoded chunk.
//
// "-" reads one flow-tools stream from Options.Stdin and delivers it in
// stream order, as flow-dscan reading a pipe does (a stream is not sorted:
// that would need all of it in memory). It may appear once among other
// paths and then cuts them into groups delivered one after another:
// "a b - c" replays the merge of a and b, then the stream, then c. Run
// fails when "-" is given twice. A path that is not a regular file (a
// named pipe, <(flow-cat ...)) is a stream too, in any format ingest
// reads, and may appear any number of times.
//
// A context cancellation stops the run between batches and returns the
// context's error.
func Run(ctx context.Context, paths []string, opt Options, sink func(flow.Batch) error) (_ *Summary, err error) {
	inputs, skips, err := Walk(paths, opt)
	if err != nil {
		return nil, err
	}
	inputs, dups := dedupe(inputs)
	skips = append(skips, dups...)
	if len(inputs) == 0 && len(skips) == 0 {
		// An empty day directory is what a capture that never ran leaves:
		// a report of nothing, exit 0, would hide that from a cron job.
		return nil, fmt.Errorf("no input files in %s", strings.Join(paths, ", "))
	}
	defer func() {
		for _, in := range inputs {
			if in.closer != nil {
				in.closer.Close()
			}
		}
	}()
	sum := &Summary{FilesSeen: len(inputs) + countFatal(skips)}
	if opt.Strict {
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
		sum.onPartial = func(k flow.Skip) { cancel(&StrictError{Skip: k}) }
		defer func() {
			if se := (*StrictError)(nil); errors.As(context.Cause(ctx), &se) {
				err = se
			}
		}()
	}
	for _, p := range paths {
		sum.Sources = append(sum.Sources, Source{Path: p})
	}
	defer sum.attribute()
	sum.add(skips...)
	stdins := 0
	for _, in := range inputs {
		if in.Stdin {
			stdins++
		}
	}
	if stdins > 1 {
		return nil, errors.New(`"-" (standard input) given more than once`)
	}
	var size int64
	whole := false
	if opt.Planned != nil || opt.Progress != nil {
		size, whole = fileBytes(inputs) // one stat a file, for both
	}
	if opt.Planned != nil {
		opt.Planned(size)
	}
	var prog *progress
	if opt.Progress != nil {
		total := int64(0) // a stream's size is unknown: the bar counts files
		if whole {
			total = size
		}
		prog = newProgress(opt.Progress, len(inputs), total)
	}
	defer prog.done()
	m := &merger{opt: opt, sink: sink, sum: sum, prog: prog}
	// Standard input splits the inputs into groups merged on their own.
	for len(inputs) > 0 {
		k := slices.IndexFunc(inputs, func(in Input) bool { return in.Stdin || in.Stream })
		if k < 0 {
			k = len(inputs)
		}
		if k > 0 {
			if err := m.run(ctx, inputs[:k]); err != nil {
				return sum, err
			}
			inputs = inputs[k:]
			continue
		}
		if err := m.stream(ctx, inputs[0]); err != nil {
			return sum, err
		}
		prog.file(0, 0)
		inputs = inputs[1:]
	}
	return sum, nil
}

func countFatal(s []flow.Skip) int {
	n := 0
	for _, k := range s {
		if k.Fatal {
			n++
		}
	}
	return n
}

// stream delivers standard input (flow-tools) or a stream path (its
// sniffed format) in stream order.
func (m *merger) stream(ctx context.Context, in Input) error {
	opt := m.opt
	name, r, fm := in.Path, in.stream, in.Format
	if in.Stdin {
		if opt.Stdin == nil {
			return errors.New("no standard input")
		}
		name, r, fm = "standard input", opt.Stdin, streamFormat(opt)
	}
	fil := newAddrFilter(opt, in.Path)
	src := m.sum.source(in.arg)
	err := fm.Decode(in.Path, r, func(b flow.Batch) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if b = fil.keep(b); len(b) == 0 {
			return nil
		}
		m.sum.Flows += uint64(len(b))
		for i := range b {
			src.count(b[i].End, b[i].End, 1)
		}
		return m.sink(b)
	}, func(s flow.Skip) { m.sum.add(s) })
	m.sum.add(fil.skips()...)
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	m.sum.FilesRead++
	src.Files++
	src.addFormat(fm.Name())
	return nil
}
