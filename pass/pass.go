// Package pass is flowsift's analysis pass, the one place where data flows
// from the archive to the findings:
//
//	inputs ──ingest.Run──▶ ordered flows ──window──▶ batches ──▶ analysers ──▶ Result
//	                                                   │            │
//	                                                   │   detectors' findings
//	                                                   │            ▼
//	                                                   └──▶ talkers, episode accountant
//
// ingest replays every input as one stream in end-time order; the pass
// keeps the flows of the window, hands each batch to every analyser side by
// side, and after the batch passes the detectors' findings to the analysers
// that collect them (the episode accountant). The report, flow-dscan's
// lines and convert's files are all made from what Run delivers; the CLI
// only parses flags into a Configuration and calls this package.
package pass

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/ingest"
)

// Analyser is anything the pass feeds: a detector, the top talkers, the
// episode accountant, flow-dscan's engine in either mode, convert's writer.
type Analyser interface {
	// Add takes the next batch of the ordered stream. It may keep no
	// reference to the batch after it returns. An error stops the pass.
	Add(flow.Batch) error
	// Finish is called once, after the last batch.
	Finish() error
	// WritePart writes the analyser's state, for the sources of its
	// shard, after Finish; MergePart folds such a part of another shard
	// into this analyser (a fresh one, fed no flows). The parts of every
	// shard merged give what one analyser over all sources would hold.
	// An analyser with nothing to merge returns errors.ErrUnsupported.
	WritePart(io.Writer) error
	MergePart(io.Reader) error
}

// findingSource is an analyser whose findings the pass passes on after
// each batch.
type findingSource interface{ takeFindings() []analyze.Finding }

// findingTaker is an analyser that collects every detector's findings.
type findingTaker interface{ AddFinding(analyze.Finding) }

// Inputs says what to read; see ingest.Options for each field.
type Inputs struct {
	Paths           []string
	Stdin           io.Reader // read for the path "-"
	Progress        io.Writer // progress bar (nil = none); see ProgressWriter
	IncludePartial  bool
	Strict          bool
	CompatByteOrder bool
	NfdumpZone      *time.Location
	ExportDelay     time.Duration // see ingest.Options; 0 = ingest.DefaultExportDelay, negative = none
	// RequireAddresses drops, with a skip, the records that carry no
	// source and destination address (v8 aggregations): every detector
	// needs them.
	RequireAddresses bool
}

// Stream is what a pass read.
type Stream struct {
	Summary *ingest.Summary
}

// BatchSize is how many flows a batch holds for one or two analysers
// (flowsift dscan, convert): each batch is a round of hand-offs to the
// analysers and a wait for the slowest, and with 4096 flows the report
// spent a tenth more CPU on them than with 16k. Twice as many gave dscan
// over the sample day (tree1m, 1 M flows) 1.01 times the CPU time (0.98-
// 1.06, eight rounds in turn: no gain) for 5.5 MB more RSS.
const BatchSize = 16 << 10

// manyBatchSize is a batch for three analysers or more (a report feeds
// ten): each analyser goes through the whole batch before the next takes
// the core. Over the sample day, six or more rounds in turn each, 32k
// flows took 0.93 times the user time of 16k (0.89-0.95), 64k 0.95 times
// that of 32k (0.92-0.99) for 7 MB more RSS, and 128k 0.95 times that of
// 64k (0.92-1.00) for 16 MB more: 64k (16 MB a batch) leaves the week's
// archive room under its 600 MB. The time saved is in the analysers'
// table look-ups (dscan, the roles, the accountant, the talkers, in a
// profile), not in a cost paid once a batch; that an analyser finds more
// of its lines still in the caches when it comes round less often is our
// reading, not a measure: this machine has no cache counters. Under a
// budget the batch takes at most a batchShare of it (64k flows under the
// default 1 GiB), and never fewer flows than BatchSize.
const manyBatchSize = 64 << 10

const batchShare = 64

// batchSize is the batch for a pass: cfg.BatchFlows if set, else by the
// number of analysers and the budget.
func batchSize(cfg Configuration, analysers int) int {
	switch {
	case cfg.BatchFlows > 0:
		return cfg.BatchFlows
	case analysers <= 2:
		return BatchSize
	case cfg.Memory > 0:
		return int(max(BatchSize, min(manyBatchSize, cfg.Memory/batchShare/int64(unsafe.Sizeof(flow.Record{})))))
	}
	return manyBatchSize
}

// Run reads the inputs and feeds every analyser, then finishes them. The
// analysers of one batch run side by side, at most cfg.Jobs at a time;
// the output never depends on how many.
func Run(ctx context.Context, cfg Configuration, in Inputs, as []Analyser) (*Stream, error) {
	st := &Stream{}
	win := newWindow(cfg.From, cfg.To)
	feed := newFeeder(cfg.jobs(), as)
	sum, err := ingest.Run(ctx, in.Paths, ingest.Options{
		Jobs: cfg.jobs(), IncludePartial: in.IncludePartial, Strict: in.Strict, CompatByteOrder: in.CompatByteOrder,
		NfdumpZone: in.NfdumpZone, From: cfg.From, To: cfg.To, Stdin: in.Stdin, Progress: in.Progress, BatchSize: batchSize(cfg, len(as)),
		ExportDelay: in.ExportDelay, RequireAddresses: in.RequireAddresses,
		Planned: func(bytes int64) {
			if heapHeld.Load() {
				pretouch(warmBytes(cfg.Memory, bytes), hugeBytes(cfg.Memory, bytes), cfg.HugePages)
			}
		},
	}, func(b flow.Batch) error {
		if b = win.filter(b); len(b) == 0 {
			return nil
		}
		return feed.batch(b)
	})
	st.Summary = sum
	if err != nil {
		return st, err
	}
	for _, a := range as {
		if err := a.Finish(); err != nil {
			return st, err
		}
	}
	feed.deliver()
	return st, nil
}

// window keeps the flows that end in [from, to); a zero bound is open.
type window struct {
	on       bool
	from, to int64
	buf      flow.Batch
}

func newWindow(from, to time.Time) *window {
	w := &window{on: !from.IsZero() || !to.IsZero(), from: minInt64, to: maxInt64}
	if !from.IsZero() {
		w.from = from.UnixMilli()
	}
	if !to.IsZero() {
		w.to = to.UnixMilli()
	}
	return w
}

const (
	minInt64 = -1 << 63
	maxInt64 = 1<<63 - 1
)

func (w *window) filter(b flow.Batch) flow.Batch {
	if !w.on {
		return b
	}
	w.buf = w.buf[:0]
	for i := range b {
		if b[i].End >= w.from && b[i].End < w.to {
			w.buf = append(w.buf, b[i])
		}
	}
	return w.buf
}

// feeder runs the analysers on each batch and routes findings.
type feeder struct {
	jobs    int
	as      []Analyser
	sources []findingSource
	takers  []findingTaker
	errs    []error
}

func newFeeder(jobs int, as []Analyser) *feeder {
	f := &feeder{jobs: max(1, min(jobs, len(as))), as: as, errs: make([]error, len(as))}
	for _, a := range as {
		if s, ok := a.(findingSource); ok {
			f.sources = append(f.sources, s)
		}
		if t, ok := a.(findingTaker); ok {
			f.takers = append(f.takers, t)
		}
	}
	return f
}

// batch hands b to every analyser, at most jobs at once, each taking the
// next analyser not yet started (the table lists the costly ones first),
// then delivers the batch's findings. The analysers that collect findings
// attach them by flow position, so they may take them after the flows.
func (f *feeder) batch(b flow.Batch) error {
	if f.jobs == 1 {
		for i, a := range f.as {
			f.errs[i] = a.Add(b)
		}
	} else {
		var next atomic.Int32
		var wg sync.WaitGroup
		for range f.jobs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := int(next.Add(1) - 1); i < len(f.as); i = int(next.Add(1) - 1) {
					f.errs[i] = f.as[i].Add(b)
				}
			}()
		}
		wg.Wait()
	}
	f.deliver()
	return errors.Join(f.errs...)
}

func (f *feeder) deliver() {
	for _, s := range f.sources {
		for _, fd := range s.takeFindings() {
			for _, t := range f.takers {
				t.AddFinding(fd)
			}
		}
	}
}

// ProgressWriter is w when it is a terminal (or an ingest.Term, which the
// CLI makes of a terminal), else nil: a progress bar is for a person
// watching, not for cron's mail or a log file.
func ProgressWriter(w io.Writer) io.Writer {
	if t, ok := w.(*ingest.Term); ok {
		return t
	}
	if f, ok := w.(*os.File); ok && ingest.IsTerminal(f) {
		return f
	}
	return nil
}
