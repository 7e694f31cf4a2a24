package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/syslog"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/flowsift/flowsift/analyze/dscan"
	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/ingest"
	"github.com/flowsift/flowsift/internal/atomicfile"
	"github.com/flowsift/flowsift/internal/names"
	"github.com/flowsift/flowsift/pass"
	"github.com/flowsift/flowsift/report/dscanlog"
)

const dscanUsage = `flowsift dscan [options] [PATH... | -]

A drop-in for "flow-cat PATH | flow-dscan [options]": reads flow-capture
trees, flow files, CSV or Parquet (or a flow-tools stream on standard input)
in time order and reports host scans, port scans and excessive flows with
flow-dscan's lines.

flow-dscan options (same meanings and defaults as flow-dscan 0.68):
  -b             foreground, alerts to stderr (also the behaviour without -b/-B)
  -B             alerts to syslog (tag flow-dscan)
  -d LEVEL       debug level (accepted, ignored)
  -D DEPTH       destinations before a host scan (default 200)
  -i LIST        input interface filter, e.g. 1,4,10-20 or !1,2
  -I LIST        output interface filter
  -l             load state from the state file at start
  -L BASE        suppress lists BASE.src and BASE.dst (default ./dscan.suppress)
  -m             ignore multicast
  -O OCTETS      dump flows with more octets
  -p             write state to the state file at exit
  -P PACKETS     dump flows with more packets
  -s FILE        state file (default /var/tmp/dscan.state)
  -S PORTS       ports below 1024 of one host before a port scan (default 64)
  -t FLOWS       ager timeout in flows (default 90000, 0 = no ager)
  -T MS          dump flows lasting longer (ms)
  -w             ignore inbound www (TCP srcport 80, dstport > 1023)
  -W             ignore outbound www (TCP dstport 80, srcport > 1023)
flowsift options:
  --compat             reproduce flow-dscan 0.68 exactly, quirks included
  -j, --jobs N         goroutines the pass may use (default: all cores)
  --max-sources N      default mode: bound on tracked sources (LRU eviction)
  --ignore-bad-state   start empty when the state file is corrupt (else exit 2)
  --include-partial    read tmp- files of a capture in progress
  --export-delay D     how long before its file's start a flow may end (default 15m;
                       the merge of several trees relies on it)
  --strict             the first input not read whole (a bad row, a damaged
                       or unreadable file) stops the run: exit 2, no state written
  --summary            always print the run summary to stderr
`

func init() {
	register(&cli.Command{
		Name:            "dscan",
		Usage:           "flow-dscan's scan detector (drop-in for flow-cat | flow-dscan)",
		UsageText:       dscanUsage,
		SkipFlagParsing: true,
		Action: func(ctx context.Context, c *cli.Command) error {
			return runDscan(ctx, c.Args().Slice())
		},
	})
}

type dscanOpts struct {
	cfg            dscan.Config
	compat         bool
	syslog         bool
	load, save     bool
	stateFile      string
	suppressBase   string
	jobs           int
	ignoreBadState bool
	exportDelay    time.Duration
	includePartial bool
	strict         bool
	alwaysSummary  bool
	paths          []string
}

func parseDscanArgs(args []string) (*dscanOpts, error) {
	g := &getopt{
		short: map[byte]bool{'b': false, 'B': false, 'h': false, 'l': false, 'm': false, 'p': false, 'w': false, 'W': false,
			'd': true, 'D': true, 'i': true, 'I': true, 'L': true, 'O': true, 'P': true, 's': true, 'S': true, 't': true, 'T': true, 'j': true},
		long: map[string]bool{"compat": false, "jobs": true, "max-sources": true, "ignore-bad-state": false, "export-delay": true,
			"include-partial": false, "strict": false, "summary": false, "help": false},
		alias: map[string]byte{"jobs": 'j', "help": 'h'},
	}
	opts, paths, err := g.parse(args)
	if err != nil {
		return nil, err
	}
	o := &dscanOpts{cfg: dscan.DefaultConfig(), stateFile: "/var/tmp/dscan.state", suppressBase: "./dscan.suppress", paths: paths,
		jobs: runtime.NumCPU()}
	num := func(name, v string, bits int) (uint64, error) {
		n, err := strconv.ParseUint(v, 0, bits)
		if err != nil {
			return 0, fmt.Errorf("option -%s: %q is not a number below 2^%d", name, v, bits)
		}
		return n, nil
	}
	for _, ov := range opts {
		var n uint64
		switch ov.name {
		case "b", "d":
		case "B":
			o.syslog = true
		case "h":
			return nil, errHelp
		case "l":
			o.load = true
		case "p":
			o.save = true
		case "m":
			o.cfg.Mcast = true
		case "w":
			o.cfg.WWWIn = true
		case "W":
			o.cfg.WWWOut = true
		case "D":
			if n, err = num("D", ov.val, 31); err == nil {
				o.cfg.Depth = int(n)
			}
		case "S":
			if n, err = num("S", ov.val, 31); err == nil {
				o.cfg.PortTrigger = int(n)
			}
		case "t":
			if n, err = num("t", ov.val, 32); err == nil {
				o.cfg.AgerTimeout = n
			}
		case "O":
			o.cfg.Octets, err = num("O", ov.val, 64)
		case "P":
			o.cfg.Packets, err = num("P", ov.val, 64)
		case "T":
			if n, err = num("T", ov.val, 32); err == nil {
				o.cfg.Time = uint32(n)
			}
		case "i":
			o.cfg.InputIf, err = dscan.ParseIfList(ov.val)
		case "I":
			o.cfg.OutputIf, err = dscan.ParseIfList(ov.val)
		case "L":
			o.suppressBase = ov.val
		case "s":
			o.stateFile = ov.val
		case "j":
			if n, err = num("j", ov.val, 16); err == nil {
				o.jobs = int(n)
			}
		case "compat":
			o.compat = true
		case "max-sources":
			if n, err = num("-max-sources", ov.val, 31); err == nil {
				o.cfg.MaxSources = int(n)
			}
		case "ignore-bad-state":
			o.ignoreBadState = true
		case "export-delay":
			o.exportDelay, err = parseDelay(ov.val)
		case "include-partial":
			o.includePartial = true
		case "strict":
			o.strict = true
		case "summary":
			o.alwaysSummary = true
		}
		if err != nil {
			return nil, err
		}
	}
	if len(o.paths) == 0 {
		o.paths = []string{"-"}
	}
	o.cfg.Jobs = o.jobs
	return o, nil
}

// passConfig is the pass's configuration for the dscan command, checked.
func (o *dscanOpts) passConfig() (pass.Configuration, error) {
	cfg := pass.DefaultConfiguration()
	cfg.Jobs, cfg.Dscan = o.jobs, o.cfg
	return cfg, cfg.Validate()
}

var errHelp = errors.New("help")

func runDscan(ctx context.Context, args []string) error {
	o, err := parseDscanArgs(args)
	if errors.Is(err, errHelp) {
		fmt.Fprint(stdio.out, dscanUsage)
		return nil
	}
	if err != nil {
		return usageErr("dscan: %v (see flowsift dscan -h)", err)
	}
	cfg, err := o.passConfig()
	if err != nil {
		return usageErr("dscan: %v", err)
	}
	if o.load || o.save {
		if err := checkStateFile(o.stateFile, o.save); err != nil {
			return usageErr("dscan: %v", err)
		}
	}

	out := &dscanlog.Writer{Out: stdio.err, Loc: time.Local}
	if o.syslog {
		sl, err := syslog.New(syslog.LOG_INFO|syslog.LOG_DAEMON, "flow-dscan")
		if err != nil {
			return withCode(exitUsage, fmt.Errorf("dscan -B: cannot reach syslog: %w", err))
		}
		defer sl.Close()
		out.Out = prefixStripper{sl}
	}

	sup, err := dscan.LoadSuppress(o.suppressBase, o.compat, dscan.SuppressLog{
		Line: func(text string) { out.Line(text) },
		Warn: func(_, text string) {
			if !o.compat {
				// flow-dscan prints the offending line raw, and --compat
				// does too; the default mode escapes what is not printable.
				text = names.OneLine(strings.TrimSuffix(text, "\n")) + "\n"
			}
			out.Line(text)
		},
		Missing: func(path string, err error) {
			fmt.Fprintf(stdio.err, "flowsift: warning: suppress list %s not read (%s); going on without it\n", quoteName(path), names.OneLine(err.Error()))
		},
	})
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("dscan: %w", err))
	}
	o.cfg.Suppress = sup

	var onErr error
	eng := pass.NewDscan(o.cfg, o.compat, func(ev dscan.Event) {
		if err := out.Event(ev); err != nil && onErr == nil {
			onErr = err
		}
	})
	eng.Err = func() error { return onErr }
	if o.load {
		if err := loadState(eng, o); err != nil {
			return err
		}
	}

	sum, err := pass.Run(ctx, cfg, pass.Inputs{Paths: o.paths, Stdin: stdio.in, Progress: pass.ProgressWriter(stdio.err),
		IncludePartial: o.includePartial, Strict: o.strict, ExportDelay: o.exportDelay, RequireAddresses: true}, []pass.Analyser{eng})
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("dscan: %w", err))
	}
	if i := slices.IndexFunc(sum.Summary.Skips, func(k flow.Skip) bool {
		return k.Reason == "no-addresses" && !strings.Contains(k.Detail, "aggregation")
	}); sum.Summary.Flows == 0 && i >= 0 {
		// A CSV without an address column: say which, not "v8".
		return withCode(exitUsage, fmt.Errorf("dscan: %s", ingest.SkipString(sum.Summary.Skips[i])))
	}
	if sum.Summary.Flows == 0 && slices.ContainsFunc(sum.Summary.Skips, func(k flow.Skip) bool { return k.Reason == "no-addresses" }) {
		// Nothing but aggregations: flow-dscan refuses them at the start.
		return withCode(exitUsage, errors.New("dscan: export version not supported: these records carry no source and destination addresses (v8 aggregation); flow-dscan reads versions 1, 5, 6 and 7"))
	}
	if onErr != nil {
		return withCode(exitUsage, fmt.Errorf("dscan: write alerts: %w", onErr))
	}
	if o.save {
		if err := atomicfile.Write(o.stateFile, eng.SaveState); err != nil {
			return withCode(exitUsage, fmt.Errorf("dscan: write state: %w", err))
		}
	}
	if n := eng.Evicted(); n > 0 {
		fmt.Fprintf(stdio.err, "flowsift: --max-sources %d: %d sources evicted (least recently seen first); their scans may be missed\n", o.cfg.MaxSources, n)
	}
	if n := eng.IPv6Ignored(); n > 0 {
		fmt.Fprintf(stdio.err, "flowsift: --compat: %d IPv6 flows ignored (flow-dscan reads IPv4 only)\n", n)
	}
	if sum.Summary.Partial() || o.alwaysSummary {
		fmt.Fprint(stdio.err, "flowsift: run summary: ")
		sum.Summary.WriteText(stdio.err)
	}
	if sum.Summary.Partial() {
		return withCode(exitPartial, nil)
	}
	return nil
}

// checkStateFile refuses, before any input is read, a state file that is
// not a regular file: the state is replaced by a rename, which would turn
// a device or a pipe into a regular file. With -p the directory must take
// a new file.
func checkStateFile(path string, save bool) error {
	st, err := os.Stat(path)
	if err == nil && !st.Mode().IsRegular() {
		return fmt.Errorf("state file %s is not a regular file (%v); give a file with -s", quoteName(path), st.Mode().Type())
	}
	if save {
		if err := atomicfile.CheckWritable(path); err != nil {
			return fmt.Errorf("-p: cannot write state file %s: %w", quoteName(path), err)
		}
	}
	return nil
}

func loadState(eng *pass.Dscan, o *dscanOpts) error {
	f, err := os.Open(o.stateFile)
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("dscan -l: %w", err))
	}
	defer f.Close()
	if err := eng.LoadState(f, o.stateFile); err != nil {
		if o.ignoreBadState {
			fmt.Fprintf(stdio.err, "flowsift: warning: %s; starting with an empty table (--ignore-bad-state)\n", names.OneLine(err.Error()))
			return nil
		}
		return withCode(exitUsage, fmt.Errorf("dscan -l: %w (use --ignore-bad-state to start empty)", err))
	}
	if srcs, dsts := eng.LoadTrimmed(); srcs > 0 {
		fmt.Fprintf(stdio.err, "flowsift: warning: state file %s: %d sources listed more than -D %d destinations; their %d least recently seen were dropped\n",
			quoteName(o.stateFile), srcs, o.cfg.Depth, dsts)
	}
	return nil
}

// prefixStripper drops flow-dscan's prefix for syslog, whose tag says it.
type prefixStripper struct{ w io.Writer }

func (p prefixStripper) Write(b []byte) (int, error) {
	s := strings.TrimPrefix(string(b), dscanlog.Prefix)
	_, err := io.WriteString(p.w, s)
	return len(b), err
}
