package pass

import (
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/analyze/dscan"
	"github.com/flowsift/flowsift/analyze/episode"
	"github.com/flowsift/flowsift/analyze/guess"
	"github.com/flowsift/flowsift/analyze/heuristics"
	"github.com/flowsift/flowsift/analyze/roles"
	"github.com/flowsift/flowsift/analyze/talkers"
	"github.com/flowsift/flowsift/analyze/trw"
	"github.com/flowsift/flowsift/analyze/vscan"
	"github.com/flowsift/flowsift/analyze/weighted"
)

// Configuration is everything a pass needs besides its inputs: one
// Config per analyser, filled from DefaultConfiguration, then the site
// policy, then the command line, and checked once by Validate.
type Configuration struct {
	// Jobs is the number of goroutines the pass may use: that many files
	// are decoded at once, and that many analysers work on a batch at
	// once. It never changes the output.
	Jobs int
	// From and To select flows by end time: From inclusive, To
	// exclusive; a zero bound is open.
	From, To time.Time
	// Local are the site's networks (targets are counted local or
	// remote; the heuristics' plan and bogon rules need them).
	Local []netip.Prefix
	// Detectors are the detectors to run, names of the table (dscan
	// always runs); nil = all.
	Detectors []string
	// Shard restricts the pass to part of the sources; see analyze.Shard
	// and WritePart.
	Shard analyze.Shard
	// SuppressFile and PolicyFile are shown in the settings (the lists
	// and the policy themselves are in Dscan and the detectors' Configs).
	SuppressFile, PolicyFile string
	// Memory is the pass's budget in bytes (0 = none): the top talkers'
	// pair table spills to temporary files in TempDir ("" = the
	// system's, $TMPDIR) beyond a 48th of it, and TRW's oldest state
	// beyond a twelfth, with the same results; vscan's and the roles'
	// tables are bounded by their shares (see budgeted); the Go heap is
	// held to it. The other detectors' state is bounded by their own
	// aging, and decoding by the chunks in flight; see README "Memory".
	Memory  int64
	TempDir string
	// HugePages says whether the heap set aside before the pass (a
	// quarter of Memory at most) asks for transparent huge pages instead
	// of being faulted in: auto (the zero value) does where the
	// machine's page faults are slow. It changes the run's cost, never
	// its output.
	HugePages HugePages
	// BatchFlows is how many flows each batch handed to the analysers
	// holds (0: by their number and Memory, see batchSize). It changes the run's
	// cost, not its findings or tables; only the talkers' spill line,
	// which says how much they spilled, may differ.
	BatchFlows int

	Dscan      dscan.Config
	Weighted   weighted.Config
	TRW        trw.Config
	Heuristics heuristics.Config
	Talkers    talkers.Config
	Episodes   episode.Config
	VScan      vscan.Config
	Guess      guess.Config
	Roles      roles.Config
}

// DefaultConfiguration is a report's defaults: every detector at its
// published thresholds, excessive flows over 1 GB, 1 M packets or 30
// minutes, one goroutine per core.
func DefaultConfiguration() Configuration {
	d := dscan.DefaultConfig()
	d.Octets, d.Packets, d.Time = 1_000_000_000, 1_000_000, 1_800_000
	h := heuristics.DefaultConfig()
	h.Special = heuristics.DefaultSpecial()
	return Configuration{
		Jobs:       runtime.NumCPU(),
		Memory:     DefaultMemory,
		Detectors:  DetectorNames(),
		Dscan:      d,
		Weighted:   weighted.DefaultConfig(),
		TRW:        trw.DefaultConfig(),
		Heuristics: h,
		Talkers:    talkers.Config{N: talkers.DefaultN},
		VScan:      vscan.DefaultConfig(),
		Guess:      guess.DefaultConfig(),
		Roles:      roles.DefaultConfig(),
	}
}

// Validate checks every Config, so that a bad value is refused with its
// name before any input is read.
func (c *Configuration) Validate() error {
	if c.Jobs < 1 {
		return fmt.Errorf("-j %d: must be at least 1", c.Jobs)
	}
	if !c.From.IsZero() && !c.To.IsZero() && !c.To.After(c.From) {
		return fmt.Errorf("the window ends (%s) before it starts (%s)", c.To.Format(time.RFC3339), c.From.Format(time.RFC3339))
	}
	for _, n := range c.Detectors {
		if !slices.Contains(DetectorNames(), n) {
			return fmt.Errorf("unknown detector %q (%s)", n, strings.Join(DetectorNames(), ", "))
		}
	}
	for _, err := range []error{c.Shard.Validate(), c.Dscan.Validate(), c.Weighted.Validate(), c.TRW.Validate(),
		c.Heuristics.Validate(), c.Talkers.Validate(), c.Episodes.Validate(), c.VScan.Validate(), c.Guess.Validate(), c.Roles.Validate()} {
		if err != nil {
			return err
		}
	}
	if c.Memory < 0 {
		return fmt.Errorf("--memory %d: must not be negative (0 = no budget)", c.Memory)
	}
	if c.Talkers.N == 0 {
		return fmt.Errorf("top talkers: 0 rows: must be at least 1")
	}
	return nil
}

func (c *Configuration) jobs() int { return max(c.Jobs, 1) }

func (c *Configuration) enabled(name string) bool {
	return name == "dscan" || c.Detectors == nil || slices.Contains(c.Detectors, name)
}

// heuristics is the heuristics' Config with the site's networks.
func (c *Configuration) heuristics() heuristics.Config {
	h := c.Heuristics
	if len(c.Local) > 0 {
		h.Local = c.Local
	}
	return h
}

// Settings describes the configuration for the report's settings
// section: dscan's thresholds, the files and networks of the site, the
// talkers, then each other detector that runs.
func (c *Configuration) Settings() []analyze.Setting {
	s := detectors[0].settings(c)
	s = append(s,
		analyze.Setting{Name: "suppress lists", Value: orNone(c.SuppressFile)},
		analyze.Setting{Name: "policy file", Value: orNone(c.PolicyFile)},
		analyze.Setting{Name: "local networks", Value: orNone(prefixList(c.Local))})
	s = append(s, c.Talkers.Settings()...)
	s = append(s, c.Roles.Settings()...)
	if !c.Shard.Whole() {
		s = append(s, analyze.Setting{Name: "shard", Value: c.Shard.String()})
	}
	for _, d := range detectors[1:] {
		if c.enabled(d.name) {
			s = append(s, d.settings(c)...)
		}
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func prefixList(ps []netip.Prefix) string {
	var s []string
	for _, p := range ps {
		s = append(s, p.String())
	}
	return strings.Join(s, ",")
}
