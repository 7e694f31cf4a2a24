package pass

import (
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/analyze/dscan"
	"github.com/flowsift/flowsift/analyze/episode"
	"github.com/flowsift/flowsift/analyze/guess"
	"github.com/flowsift/flowsift/analyze/heuristics"
	"github.com/flowsift/flowsift/analyze/talkers"
	"github.com/flowsift/flowsift/analyze/trw"
	"github.com/flowsift/flowsift/analyze/vscan"
	"github.com/flowsift/flowsift/analyze/weighted"
	"github.com/flowsift/flowsift/flow"
)

// detectors is the table of detectors a report runs, in the order their
// findings and settings are listed. A new detector is a package that
// implements analyze.Detector plus one line here (and its Config in
// Configuration). dscan always runs; Configuration.Detectors picks among
// the others.
var detectors = []struct {
	name     string
	new      func(c *Configuration, sink analyze.Sink) analyze.Detector
	settings func(c *Configuration) []analyze.Setting
}{
	{"dscan", func(c *Configuration, sink analyze.Sink) analyze.Detector { return dscanFindings(c.Dscan, sink) },
		func(c *Configuration) []analyze.Setting { return c.Dscan.Settings() }},
	{"weighted-ports", func(c *Configuration, sink analyze.Sink) analyze.Detector { return weighted.New(c.Weighted, sink) },
		func(c *Configuration) []analyze.Setting { return c.Weighted.Settings() }},
	{"trw", func(c *Configuration, sink analyze.Sink) analyze.Detector { return trw.New(c.TRW, sink) },
		func(c *Configuration) []analyze.Setting { return c.TRW.Settings() }},
	{"heuristics", func(c *Configuration, sink analyze.Sink) analyze.Detector {
		return heuristics.New(c.heuristics(), sink)
	},
		func(c *Configuration) []analyze.Setting { return c.heuristics().Settings() }},
	{"vscan", func(c *Configuration, sink analyze.Sink) analyze.Detector { return vscan.New(c.VScan, sink) },
		func(c *Configuration) []analyze.Setting { return c.VScan.Settings() }},
	{"guess", func(c *Configuration, sink analyze.Sink) analyze.Detector { return guess.New(c.Guess, sink) },
		func(c *Configuration) []analyze.Setting { return c.Guess.Settings() }},
}

// DetectorNames lists every detector of the table.
func DetectorNames() []string {
	var out []string
	for _, d := range detectors {
		out = append(out, d.name)
	}
	return out
}

// ParseDetectors reads a --detectors value: "all", "dscan" (dscan alone)
// or a comma-separated list; dscan is always on. The result is in table
// order.
func ParseDetectors(v string) ([]string, error) {
	on := map[string]bool{"dscan": true}
	for _, n := range strings.Split(v, ",") {
		switch n = strings.TrimSpace(n); n {
		case "all":
			for _, d := range detectors {
				on[d.name] = true
			}
		case "":
		default:
			if !slices.Contains(DetectorNames(), n) {
				return nil, fmt.Errorf("unknown detector %q (%s, all)", n, strings.Join(DetectorNames(), ", "))
			}
			on[n] = true
		}
	}
	var out []string
	for _, d := range detectors {
		if on[d.name] {
			out = append(out, d.name)
		}
	}
	return out, nil
}

// dscanFindings runs the default-mode engine as a detector: its findings
// go to sink, its other events (flow dumps are findings too) are not for
// a report.
func dscanFindings(cfg dscan.Config, sink analyze.Sink) analyze.Detector {
	return engineDetector{dscan.New(cfg, func(ev dscan.Event) {
		if ev.Kind == dscan.EvFinding {
			sink(ev.Finding)
		}
	})}
}

type engineDetector struct{ *dscan.Engine }

func (e engineDetector) Add(b flow.Batch) { e.Process(b) }

// detector adapts an analyze.Detector to the pass: it keeps the findings
// of the sources of its shard and counts them; the findings themselves
// live on in the episode accountant's part.
type detector struct {
	name    string
	d       analyze.Detector
	shard   analyze.Shard
	pending []analyze.Finding
	found   map[analyze.Kind]uint64
}

func newDetector(name string, c *Configuration, new func(*Configuration, analyze.Sink) analyze.Detector) *detector {
	d := &detector{name: name, shard: c.Shard, found: map[analyze.Kind]uint64{}}
	d.d = new(c, d.sink)
	return d
}

func (d *detector) sink(f analyze.Finding) {
	if d.shard.Owns(f.Src) {
		d.pending = append(d.pending, f)
		d.found[f.Kind]++
	}
}

func (d *detector) Add(b flow.Batch) error { d.d.Add(b); return nil }

func (d *detector) Finish() error {
	if f, ok := d.d.(analyze.Flusher); ok {
		f.Flush()
	}
	return nil
}

func (d *detector) takeFindings() []analyze.Finding {
	p := d.pending
	d.pending = d.pending[:0]
	return p
}

// WritePart writes the detector's finding counts by kind.
func (d *detector) WritePart(w io.Writer) error { return gob.NewEncoder(w).Encode(d.found) }

func (d *detector) MergePart(r io.Reader) error {
	var m map[analyze.Kind]uint64
	if err := gob.NewDecoder(r).Decode(&m); err != nil {
		return fmt.Errorf("%s: read part: %w", d.name, err)
	}
	for k, n := range m {
		d.found[k] += n
	}
	return nil
}

// Talkers is the top-talker statistics as an analyser.
type Talkers struct{ *talkers.Counter }

func (t Talkers) Add(b flow.Batch) error { t.Counter.Add(b); return t.Counter.Err() }
func (t Talkers) Finish() error          { return t.Counter.Finish() }

// Episodes is the episode accountant as an analyser.
type Episodes struct{ *episode.Accountant }

func (e Episodes) Add(b flow.Batch) error { e.Accountant.Add(b); return nil }
func (e Episodes) Finish() error          { return nil }

// Dscan is flow-dscan's engine, in either mode, as an analyser.
type Dscan struct {
	eng interface {
		Process(flow.Batch)
		SaveState(io.Writer) error
		LoadState(io.Reader, string) error
	}
	// compat drops IPv6 flows, which flow-dscan cannot read, and counts
	// them.
	compat bool
	ipv6   uint64
	v6buf  flow.Batch
	// Err is checked after every batch: the event callback's writer
	// failing stops the pass.
	Err func() error
}

// NewDscan makes the engine of flow-dscan's command: the default engine,
// or with compat the byte-exact one; onEvent gets its lines' events.
func NewDscan(cfg dscan.Config, compat bool, onEvent func(dscan.Event)) *Dscan {
	if compat {
		return &Dscan{eng: dscan.NewCompat(cfg, onEvent), compat: true}
	}
	return &Dscan{eng: dscan.New(cfg, onEvent)}
}

// Add runs a batch through the engine. The records must carry addresses
// (run the pass with Inputs.RequireAddresses).
func (d *Dscan) Add(b flow.Batch) error {
	if d.compat {
		b = d.dropIPv6(b)
	}
	d.eng.Process(b)
	if d.Err != nil {
		return d.Err()
	}
	return nil
}

func (d *Dscan) dropIPv6(b flow.Batch) flow.Batch {
	for i := range b {
		if !b[i].Is4() {
			d.v6buf = append(d.v6buf[:0], b[:i]...)
			for _, r := range b[i:] {
				if r.Is4() {
					d.v6buf = append(d.v6buf, r)
				} else {
					d.ipv6++
				}
			}
			return d.v6buf
		}
	}
	return b
}

// Finish stops the default engine's goroutines.
func (d *Dscan) Finish() error {
	if e, ok := d.eng.(*dscan.Engine); ok {
		e.Flush()
	}
	return nil
}

// SaveState and LoadState read and write the engine's state file format.
func (d *Dscan) SaveState(w io.Writer) error              { return d.eng.SaveState(w) }
func (d *Dscan) LoadState(r io.Reader, name string) error { return d.eng.LoadState(r, name) }

// IPv6Ignored is how many IPv6 flows compat mode dropped.
func (d *Dscan) IPv6Ignored() uint64 { return d.ipv6 }

// Evicted is how many sources --max-sources pushed out (default engine).
func (d *Dscan) Evicted() uint64 {
	if e, ok := d.eng.(*dscan.Engine); ok {
		return e.Evicted()
	}
	return 0
}

// dscan's state file is its part format for `flowsift dscan`; the report
// merges the accountant's episodes instead.
func (d *Dscan) WritePart(io.Writer) error { return errors.ErrUnsupported }
func (d *Dscan) MergePart(io.Reader) error { return errors.ErrUnsupported }

// Func is an analyser made of a function, such as convert's writer.
type Func func(flow.Batch) error

func (f Func) Add(b flow.Batch) error    { return f(b) }
func (f Func) Finish() error             { return nil }
func (f Func) WritePart(io.Writer) error { return errors.ErrUnsupported }
func (f Func) MergePart(io.Reader) error { return errors.ErrUnsupported }
