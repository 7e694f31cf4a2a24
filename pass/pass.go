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
	"cmp"
	"context"
	"errors"
	"io"
	"os"
	"slices"
	"sync"
	"time"

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

// BatchSize is how many flows a batch holds: each batch is a round of
// hand-offs to the analysers and a wait for the slowest, and with 4096
// flows the report spent a tenth more CPU on them than with 16k (measured;
// larger batches were no faster).
const BatchSize = 16 << 10

// Run reads the inputs and feeds every analyser, then finishes them. The
// analysers of one batch run side by side, at most cfg.Jobs at a time;
// the output never depends on how many.
func Run(ctx context.Context, cfg Configuration, in Inputs, as []Analyser) (*Stream, error) {
	st := &Stream{}
	win := newWindow(cfg.From, cfg.To)
	feed := newFeeder(cfg.jobs(), as)
	sum, err := ingest.Run(ctx, in.Paths, ingest.Options{
		Jobs: cfg.jobs(), IncludePartial: in.IncludePartial, Strict: in.Strict, CompatByteOrder: in.CompatByteOrder,
		NfdumpZone: in.NfdumpZone, From: cfg.From, To: cfg.To, Stdin: in.Stdin, Progress: in.Progress, BatchSize: BatchSize,
		ExportDelay: in.ExportDelay, RequireAddresses: in.RequireAddresses,
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
	// With jobs > 1 each goroutine (lane) runs a fixed set of analysers,
	// chosen from their recent costs so the lanes take about as long. An
	// analyser that changed core each batch (the lanes took the next one
	// not started) found its tables' recent lines in the other core's
	// cache: that cost about a tenth more CPU time than fixed lanes.
	lanes [][]int
	cost  []float64 // ns per batch, smoothed
	took  []time.Duration
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

// batch hands b to every analyser, at most jobs at once (each lane of
// analysers on its own goroutine, the first on the caller's), then
// delivers the batch's findings. The analysers that collect findings
// attach them by flow position, so they may take them after the flows.
func (f *feeder) batch(b flow.Batch) error {
	if f.jobs == 1 {
		for i, a := range f.as {
			f.errs[i] = a.Add(b)
		}
	} else {
		if f.lanes == nil {
			f.cost, f.took = make([]float64, len(f.as)), make([]time.Duration, len(f.as))
			for i := range f.cost {
				f.cost[i] = float64(len(f.as) - i) // the table lists the costly ones first
			}
			f.lanes = lanes(f.cost, f.jobs)
		}
		var wg sync.WaitGroup
		for _, lane := range f.lanes[1:] {
			wg.Go(func() { f.run(lane, b) })
		}
		f.run(f.lanes[0], b)
		wg.Wait()
		for i, d := range f.took {
			f.cost[i] = 0.75*f.cost[i] + 0.25*float64(d)
		}
		// Moved only when the lanes are a fifth out of balance: each move
		// costs the moved analyser's cached lines.
		if next := lanes(f.cost, f.jobs); span(f.cost, f.lanes) > 1.2*span(f.cost, next) {
			f.lanes = next
		}
	}
	f.deliver()
	return errors.Join(f.errs...)
}

func (f *feeder) run(lane []int, b flow.Batch) {
	for _, i := range lane {
		t := time.Now()
		f.errs[i] = f.as[i].Add(b)
		f.took[i] = time.Since(t)
	}
}

// lanes deals the analysers out to n lanes, the costliest first, each to
// the lane with the least so far (ties to the first: the same costs give
// the same lanes).
func lanes(cost []float64, n int) [][]int {
	order := make([]int, len(cost))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(cost[b], cost[a]) })
	out, sum := make([][]int, n), make([]float64, n)
	for _, i := range order {
		l := 0
		for j := range sum {
			if sum[j] < sum[l] {
				l = j
			}
		}
		out[l] = append(out[l], i)
		sum[l] += cost[i]
	}
	return out
}

// span is how long the slowest lane takes.
func span(cost []float64, ls [][]int) float64 {
	m := 0.0
	for _, l := range ls {
		t := 0.0
		for _, i := range l {
			t += cost[i]
		}
		m = max(m, t)
	}
	return m
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
