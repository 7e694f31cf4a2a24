package pass

import (
	"bytes"
	"context"
	"encoding/gob"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/analyze/assess"
	"github.com/flowsift/flowsift/analyze/episode"
	"github.com/flowsift/flowsift/analyze/roles"
	"github.com/flowsift/flowsift/analyze/talkers"
	"github.com/flowsift/flowsift/analyze/trw"
	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/ingest"
)

// Result is what a report is made of.
type Result struct {
	Stream
	// FirstFlow is the earliest Start and LastFlow the latest End of the
	// flows in the window (ms; 0 when there were none).
	FirstFlow, LastFlow int64
	Detectors           []string // the detectors that ran, in table order
	Settings            []analyze.Setting
	Episodes            *episode.Result
	Tables              []talkers.Table
	// TalkerSpills is how many times the top talkers' pair table went to
	// temporary files to stay within Configuration.Memory (0: it fit),
	// and TalkerSpillBytes how much was written to them.
	TalkerSpills     int
	TalkerSpillBytes int64
	// TRWShed is the shortest horizon TRW's share of Configuration.Memory
	// imposed on its state (0: the default horizon held).
	TRWShed time.Duration
	// Assessment ranks the episodes with severity, confidence, figures
	// and reason, holds back what host roles explain, and groups
	// campaigns.
	Assessment *assess.Result
}

// Report is the pass of `flowsift report`: every enabled detector, the
// top talkers and the episode accountant, over one stream.
type Report struct {
	cfg    Configuration
	names  []string   // of as
	as     []Analyser // the costly first (see feeder.batch)
	talk   *talkers.Counter
	acc    *episode.Accountant
	ext    *extent
	roles  *roles.Analyser
	stream *Stream
}

// NewReport builds the analysers of cfg, which must have passed Validate.
func NewReport(cfg Configuration) *Report {
	cfg = budgeted(cfg)
	r := &Report{cfg: cfg}
	tc := cfg.Talkers
	tc.Shard = cfg.Shard
	tc.TempDir = cfg.TempDir
	r.talk = talkers.New(tc)
	ec := cfg.Episodes
	ec.Local, ec.Shard = cfg.Local, cfg.Shard
	r.acc = episode.New(ec)
	r.ext = &extent{}
	rc := cfg.Roles
	rc.Shard = cfg.Shard
	r.roles = roles.New(rc)
	// The engine gets one goroutine: the pass already runs it beside the
	// other analysers, and sharding it as well only added hand-offs
	// (measured).
	dc := cfg
	dc.Dscan.Jobs = 1
	dc.Dscan.Sources = cfg.Shard
	add := func(name string, a Analyser) {
		r.names = append(r.names, name)
		r.as = append(r.as, a)
	}
	add("dscan", newDetector("dscan", &dc, detectors[0].new))
	add("talkers", Talkers{r.talk})
	add("episodes", Episodes{r.acc})
	add("extent", r.ext)
	add("roles", Roles{r.roles})
	for _, d := range detectors[1:] {
		if cfg.enabled(d.name) {
			add(d.name, newDetector(d.name, &dc, d.new))
		}
	}
	return r
}

// Run reads the inputs through every analyser. With a budget, the Go
// heap is held to it for the run (see holdHeap).
func (r *Report) Run(ctx context.Context, in Inputs) error {
	if r.cfg.Memory > 0 && !heapHeld.Load() {
		defer holdHeap(r.cfg.Memory)()
	}
	in.RequireAddresses = true
	st, err := Run(ctx, r.cfg, in, r.as)
	r.stream = st
	return err
}

// Result builds the report's result; call it once, after Run (or after
// merging parts into a Report that ran nothing).
func (r *Report) Result() *Result {
	res := &Result{Stream: *r.stream, FirstFlow: r.ext.First, LastFlow: r.ext.Last, Settings: r.cfg.Settings()}
	for _, d := range detectors {
		if r.cfg.enabled(d.name) {
			res.Detectors = append(res.Detectors, d.name)
		}
	}
	// The detectors have handed their findings to the accountant: what is
	// left of them is the roles and TRW's shed horizon. Taken first, and
	// the detectors let go, their state (hundreds of megabytes on a
	// week's archive) is not held while the episodes and the tables are
	// built.
	for _, a := range r.as {
		if d, ok := a.(*detector); ok {
			if t, ok := d.d.(*trw.Detector); ok {
				if h, n := t.Shed(); n > 0 {
					res.TRWShed = time.Duration(h) * time.Millisecond
					slog.Warn("trw: --memory made the detector forget state early", "shortest horizon", res.TRWShed, "times", n)
				}
			}
		}
	}
	hostRoles := r.roles.Roles()
	r.as, r.roles = nil, nil
	// The two summaries are independent: side by side they take the
	// longer of the two.
	done := make(chan struct{})
	go func() { res.Tables = r.talk.Tables(); close(done) }()
	res.Episodes = r.acc.Result()
	<-done
	// The tables are built: spill files, if any, are of no more use (and
	// were unlinked when made, so a run that ends before this leaves
	// none either).
	res.TalkerSpills, res.TalkerSpillBytes = r.talk.Spills(), r.talk.SpillBytes()
	if err := r.talk.Close(); err != nil {
		slog.Warn("top talkers: remove the spill files", "err", err)
	}
	res.Assessment = assess.Assess(res.Episodes, hostRoles, r.cfg.Local)
	return res
}

// Report runs the report's pass over the inputs.
func RunReport(ctx context.Context, cfg Configuration, in Inputs) (*Result, error) {
	r := NewReport(cfg)
	// The budget holds for the tables and views built after the pass
	// too: the source and destination tables, the episodes.
	if cfg.Memory > 0 {
		defer holdHeap(cfg.Memory)()
	}
	if err := r.Run(ctx, in); err != nil {
		return nil, err
	}
	return r.Result(), nil
}

// partFormat names the part file's layout; a change of layout changes it.
const partFormat = "flowsift-report-part/1"

// part is one shard's state: what it read, and each analyser's part.
type part struct {
	Format  string
	Shard   analyze.Shard
	Summary ingest.Summary
	Names   []string
	Parts   [][]byte
}

// WritePart writes the state of a Report run on one shard of the sources
// (Configuration.Shard), for Merge. Call it after Run instead of Result.
func (r *Report) WritePart(w io.Writer) error {
	p := part{Format: partFormat, Shard: r.cfg.Shard, Summary: *r.stream.Summary, Names: r.names}
	for i, a := range r.as {
		var b bytes.Buffer
		if err := a.WritePart(&b); err != nil {
			return fmt.Errorf("write part of %s: %w", r.names[i], err)
		}
		p.Parts = append(p.Parts, b.Bytes())
	}
	return gob.NewEncoder(w).Encode(&p)
}

// Merge reads the parts of every shard of one run (same inputs, same
// configuration, shards 0..n-1 of n) and returns the result one run over
// all sources gives; cfg is that run's configuration with the whole
// source space as its shard.
func Merge(cfg Configuration, parts ...io.Reader) (*Result, error) {
	cfg.Shard = analyze.Shard{}
	r := NewReport(cfg)
	var first *part
	seen := map[int]bool{}
	for i, in := range parts {
		var p part
		if err := gob.NewDecoder(in).Decode(&p); err != nil {
			return nil, fmt.Errorf("part %d: %w", i+1, err)
		}
		if p.Format != partFormat {
			return nil, fmt.Errorf("part %d: format %q, want %q", i+1, p.Format, partFormat)
		}
		if first == nil {
			first = &p
		}
		switch {
		case p.Shard.Count != len(parts) || p.Shard.Validate() != nil:
			return nil, fmt.Errorf("part %d is %s; merging %d parts", i+1, p.Shard, len(parts))
		case seen[p.Shard.Index]:
			return nil, fmt.Errorf("part %d: %s given twice", i+1, p.Shard)
		case !slices.Equal(p.Names, r.names) || len(p.Parts) != len(p.Names):
			return nil, fmt.Errorf("part %d ran %v; this configuration runs %v", i+1, p.Names, r.names)
		case p.Summary.Flows != first.Summary.Flows:
			return nil, fmt.Errorf("part %d read other flows than part 1 (%d flows, not %d)", i+1, p.Summary.Flows, first.Summary.Flows)
		}
		seen[p.Shard.Index] = true
		for j, a := range r.as {
			if err := a.MergePart(bytes.NewReader(p.Parts[j])); err != nil {
				return nil, fmt.Errorf("part %d: %w", i+1, err)
			}
		}
	}
	if first == nil {
		return nil, fmt.Errorf("no part to merge")
	}
	if err := r.talk.Finish(); err != nil {
		return nil, err
	}
	r.stream = &Stream{Summary: &first.Summary}
	return r.Result(), nil
}

// Roles is the host-role analyser as an analyser of the pass.
type Roles struct{ *roles.Analyser }

func (r Roles) Add(b flow.Batch) error { r.Analyser.Add(b); return nil }
func (r Roles) Finish() error          { return nil }

// extent is the time span of the flows in the window: an analyser of the
// report's, so that it runs beside the others and passes that need no
// span (dscan, convert) do not pay a walk over every flow for it.
type extent struct {
	First, Last int64 // earliest Start, latest End (ms); 0 = no flow yet
}

func (e *extent) Add(b flow.Batch) error {
	for i := range b {
		if e.First == 0 || b[i].Start < e.First {
			e.First = b[i].Start
		}
		e.Last = max(e.Last, b[i].End)
	}
	return nil
}

func (e *extent) Finish() error { return nil }

// Every shard reads every flow, so the parts' spans agree; merging takes
// the widest all the same.
func (e *extent) WritePart(w io.Writer) error { return gob.NewEncoder(w).Encode(e) }

func (e *extent) MergePart(r io.Reader) error {
	var p extent
	if err := gob.NewDecoder(r).Decode(&p); err != nil {
		return fmt.Errorf("extent: read part: %w", err)
	}
	if p.First != 0 && (e.First == 0 || p.First < e.First) {
		e.First = p.First
	}
	e.Last = max(e.Last, p.Last)
	return nil
}
