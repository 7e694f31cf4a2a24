package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/analyze/dscan"
	"github.com/flowsift/flowsift/analyze/episode"
	"github.com/flowsift/flowsift/analyze/heuristics"
	"github.com/flowsift/flowsift/analyze/talkers"
	"github.com/flowsift/flowsift/analyze/trw"
	"github.com/flowsift/flowsift/analyze/weighted"
	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/ingest"
	"github.com/flowsift/flowsift/policy"
	"github.com/flowsift/flowsift/report"
)

func init() {
	register(&cli.Command{
		Name:  "report",
		Usage: "forensic report: scanners, targets, top talkers, suppress suggestions (HTML, Markdown, CSV, JSON, mail)",
		UsageText: `flowsift report [--from T] [--to T] [--tz ZONE] [--local CIDR,...] [--suppress BASE]
  [--policy FILE] [--detectors all|dscan|LIST] [--format html,md,csv,json]
  [--out DIR | -o FILE] [--mail --to ADDR --subject S] [--top N] [-j N]
  [--generated-at T] [--fail-on-findings] [--include-partial] [--strict] PATH...

Reads anything ingest reads, runs the dscan engine in default mode plus the
other detectors (weighted ports, TRW, heuristics; configured by --policy) and
top-talker statistics in one pass, and writes the report. Files are written
to temporary names and renamed once every one of them is written, so a
failed or killed run leaves the previous report whole. generated-at:
--generated-at, else
SOURCE_DATE_EPOCH, else now; nothing else depends on the clock.
--to takes a time (end of the window) or, with --mail, an address (a value
containing "@"); --mail-to is the same as the latter.
Exit codes: 0 done, 1 findings and --fail-on-findings, 2 bad input or
options, 3 done but part of the input was skipped.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "from", Usage: "window start (RFC 3339, or YYYY-MM-DD[ HH:MM[:SS]] in --tz)"},
			&cli.StringSliceFlag{Name: "to", Usage: "window end (time), or the mail recipient with --mail"},
			&cli.StringFlag{Name: "tz", Value: "UTC", Usage: "zone for local times in the report and for --from/--to without offset"},
			&cli.StringSliceFlag{Name: "local", Usage: "local networks (CIDR), comma-separated or repeated"},
			&cli.StringFlag{Name: "policy", Usage: "site policy file (TOML; see samples/policy.example.toml): local networks, white-lists, address plan, roles, thresholds"},
			&cli.StringFlag{Name: "detectors", Value: "all", Usage: "detectors beside dscan: all, dscan (dscan alone), or a list of weighted-ports, trw, heuristics"},
			&cli.StringFlag{Name: "suppress", Usage: "dscan suppress lists BASE.src and BASE.dst (flow-dscan syntax, CIDR allowed)"},
			&cli.StringFlag{Name: "format", Value: "html,md,csv,json", Usage: "formats to write with --out (html, md, csv, json)"},
			&cli.StringFlag{Name: "out", Usage: "directory for report.html, report.md, report.json and csv/"},
			&cli.StringFlag{Name: "o", Usage: "one file (format from its extension or a single --format); - for stdout"},
			&cli.BoolFlag{Name: "mail", Usage: "write a MIME message (text + HTML) to stdout, for sendmail -t"},
			&cli.StringFlag{Name: "mail-to", Usage: "mail recipient"},
			&cli.StringFlag{Name: "mail-from", Value: "flowsift", Usage: "mail sender"},
			&cli.StringFlag{Name: "subject", Usage: "mail subject (default: flowsift report and the window)"},
			&cli.IntFlag{Name: "top", Value: talkers.DefaultN, Usage: "rows of each top-talker table"},
			&cli.IntFlag{Name: "j", Aliases: []string{"jobs"}, Usage: "goroutines decoding the input (default: all cores); the consumers run beside them; never changes the output"},
			&cli.StringFlag{Name: "generated-at", Usage: "generated-at stamp (RFC 3339); default SOURCE_DATE_EPOCH, else now"},
			&cli.BoolFlag{Name: "fail-on-findings", Usage: "exit 1 when the report lists scanners or excessive flows"},
			&cli.BoolFlag{Name: "include-partial", Usage: "read tmp- files of a capture in progress"},
			&cli.BoolFlag{Name: "strict", Usage: "a bad CSV row is fatal"},
			&cli.IntFlag{Name: "depth", Value: dscan.DefaultDepth, Usage: "dscan: destinations before a host scan (-D)"},
			&cli.IntFlag{Name: "port-trigger", Value: dscan.DefaultPortTrigger, Usage: "dscan: ports of one host before a port scan (-S)"},
			&cli.Uint64Flag{Name: "ager-timeout", Value: dscan.DefaultAgerTimeout, Usage: "dscan: flows a destination is remembered (-t)"},
			&cli.Uint64Flag{Name: "octets", Value: 1_000_000_000, Usage: "excessive flow: more octets than this (0 = off)"},
			&cli.Uint64Flag{Name: "packets", Value: 1_000_000, Usage: "excessive flow: more packets than this (0 = off)"},
			&cli.Uint64Flag{Name: "duration", Value: 1_800_000, Usage: "excessive flow: lasting longer, ms (0 = off)"},
		},
		Action: runReport,
	})
}

type reportOpts struct {
	from, to    time.Time
	zone        *time.Location
	mailTo      string
	local       []netip.Prefix
	formats     []string
	generatedAt time.Time
	policy      *policy.Policy
	detectors   map[string]bool
}

func parseWhen(s string, zone *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, zone); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("cannot read time %q (use RFC 3339 or YYYY-MM-DD[ HH:MM[:SS]])", s)
}

// generatedAt: the flag, else SOURCE_DATE_EPOCH, else now, so that a
// reproducible build of the report is one environment variable away.
func generatedAt(flag string) (time.Time, error) {
	if flag != "" {
		return time.Parse(time.RFC3339, flag)
	}
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a number of seconds", s)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	return time.Now().UTC().Truncate(time.Second), nil
}

func parseReportOpts(c *cli.Command) (*reportOpts, error) {
	o := &reportOpts{}
	var err error
	if o.zone, err = time.LoadLocation(c.String("tz")); err != nil {
		return nil, fmt.Errorf("--tz: %v", err)
	}
	if s := c.String("from"); s != "" {
		if o.from, err = parseWhen(s, o.zone); err != nil {
			return nil, fmt.Errorf("--from: %v", err)
		}
	}
	o.mailTo = c.String("mail-to")
	for _, v := range c.StringSlice("to") {
		if strings.Contains(v, "@") {
			o.mailTo = v
			continue
		}
		if o.to, err = parseWhen(v, o.zone); err != nil {
			return nil, fmt.Errorf("--to: %v", err)
		}
	}
	if !o.from.IsZero() && !o.to.IsZero() && !o.to.After(o.from) {
		return nil, fmt.Errorf("--to must be after --from")
	}
	for _, v := range c.StringSlice("local") {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p == "" {
				continue
			}
			pf, err := netip.ParsePrefix(p)
			if err != nil {
				return nil, fmt.Errorf("--local: %v", err)
			}
			o.local = append(o.local, pf.Masked())
		}
	}
	for _, f := range strings.Split(c.String("format"), ",") {
		switch f = strings.TrimSpace(f); f {
		case "html", "md", "csv", "json":
			o.formats = append(o.formats, f)
		case "":
		default:
			return nil, fmt.Errorf("--format: unknown format %q (html, md, csv, json)", f)
		}
	}
	o.policy = policy.Default()
	if p := c.String("policy"); p != "" {
		if o.policy, err = policy.Load(p); err != nil {
			return nil, err
		}
	}
	if len(o.local) == 0 {
		o.local = o.policy.LocalPrefixes()
	}
	if o.detectors, err = parseDetectors(c.String("detectors")); err != nil {
		return nil, err
	}
	if o.generatedAt, err = generatedAt(c.String("generated-at")); err != nil {
		return nil, fmt.Errorf("--generated-at: %v", err)
	}
	if c.Bool("mail") && o.mailTo == "" {
		return nil, fmt.Errorf("--mail needs --to ADDR (or --mail-to)")
	}
	if c.Bool("mail") {
		if err := report.CheckMail(c.String("mail-from"), o.mailTo); err != nil {
			return nil, err
		}
	}
	if !c.Bool("mail") && c.String("out") == "" && c.String("o") == "" {
		return nil, fmt.Errorf("say where the report goes: --out DIR, -o FILE or --mail")
	}
	if c.NArg() == 0 {
		return nil, fmt.Errorf("no input paths")
	}
	return o, nil
}

func runReport(ctx context.Context, c *cli.Command) error {
	o, err := parseReportOpts(c)
	if err != nil {
		return usageErr("report: %v", err)
	}
	cfg := dscan.DefaultConfig()
	// Thresholds: a flag given on the command line, else the policy file
	// (whose defaults are dscan's).
	cfg.Depth, cfg.PortTrigger, cfg.AgerTimeout = o.policy.Dscan.Depth, o.policy.Dscan.Ports, o.policy.Dscan.AgerTimeout
	if c.IsSet("depth") {
		cfg.Depth = int(c.Int("depth"))
	}
	if c.IsSet("port-trigger") {
		cfg.PortTrigger = int(c.Int("port-trigger"))
	}
	if c.IsSet("ager-timeout") {
		cfg.AgerTimeout = c.Uint64("ager-timeout")
	}
	cfg.Octets, cfg.Packets, cfg.Time = c.Uint64("octets"), c.Uint64("packets"), uint32(c.Uint64("duration"))
	jobs := int(c.Int("j"))
	// The engine gets one goroutine: the report already runs it beside the
	// talkers, the accountant and the other detectors on every batch, and
	// sharding it as well only added hand-offs (measured).
	cfg.Jobs = 1
	if base := c.String("suppress"); base != "" {
		sup, err := readSuppress(base)
		if err != nil {
			return err
		}
		cfg.Suppress = sup
	}
	paths := c.Args().Slice()
	acc := episode.New(episode.Config{Local: o.local, Archive: strings.Join(paths, " ")})
	tc := talkers.New(talkers.Config{N: int(c.Int("top"))})
	// Findings of a batch are handed to the accountant after it has
	// accounted the batch's flows: it attaches findings by flow index, in
	// any order, so the detectors, the talkers and the accountant can work
	// on the same batch at once.
	var pending []analyze.Finding
	collect := func(f analyze.Finding) { pending = append(pending, f) }
	eng := dscan.New(cfg, func(ev dscan.Event) {
		if ev.Kind == dscan.EvFinding {
			collect(ev.Finding)
		}
	})
	// The other detectors run in their own goroutine with their own list.
	var pendingX []analyze.Finding
	dets := newExtraDetectors(o.policy, o.local, o.detectors, func(f analyze.Finding) { pendingX = append(pendingX, f) })
	sink := acc.Sink()

	var first, last int64
	fromMS, toMS := o.from.UnixMilli(), o.to.UnixMilli()
	var window flow.Batch
	// Batches as large as the dscan pass's: each one is a round of
	// hand-offs to the consumers and a wait for the slowest, and with 4096
	// flows the report spent a tenth more CPU on them (measured).
	sum, err := ingest.Run(ctx, paths, ingest.Options{Jobs: jobs, IncludePartial: c.Bool("include-partial"), Strict: c.Bool("strict"),
		From: o.from, To: o.to, Stdin: stdio.in, Progress: progressWriter(), BatchSize: engineBatch}, func(b flow.Batch) error {
		if !o.from.IsZero() || !o.to.IsZero() {
			window = window[:0]
			for i := range b {
				if (o.from.IsZero() || b[i].End >= fromMS) && (o.to.IsZero() || b[i].End < toMS) {
					window = append(window, b[i])
				}
			}
			b = window
		}
		if len(b) == 0 {
			return nil
		}
		for i := range b {
			if first == 0 || b[i].Start < first {
				first = b[i].Start
			}
			last = max(last, b[i].End)
		}
		var wg sync.WaitGroup
		wg.Add(3)
		go func() { tc.Add(b); wg.Done() }()
		go func() { acc.Add(b); wg.Done() }()
		go func() { dets.Process(b); wg.Done() }()
		eng.Process(b)
		wg.Wait()
		for _, f := range pending {
			sink(f)
		}
		for _, f := range pendingX {
			sink(f)
		}
		pending, pendingX = pending[:0], pendingX[:0]
		return nil
	})
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("report: %w", err))
	}
	eng.Flush()
	dets.Flush()
	for _, f := range append(pending, pendingX...) {
		sink(f)
	}

	settings := []report.Setting{
		{Name: "dscan mode", Value: "default (quirks of flow-dscan 0.68 fixed)"},
		{Name: "dscan depth (-D)", Value: strconv.Itoa(cfg.Depth)},
		{Name: "dscan port trigger (-S)", Value: strconv.Itoa(cfg.PortTrigger)},
		{Name: "dscan ager timeout (-t, flows)", Value: strconv.FormatUint(cfg.AgerTimeout, 10)},
		{Name: "excessive octets (-O)", Value: strconv.FormatUint(cfg.Octets, 10)},
		{Name: "excessive packets (-P)", Value: strconv.FormatUint(cfg.Packets, 10)},
		{Name: "excessive duration ms (-T)", Value: strconv.FormatUint(uint64(cfg.Time), 10)},
		{Name: "suppress lists", Value: orNone(c.String("suppress"))},
		{Name: "policy file", Value: orNone(c.String("policy"))},
		{Name: "local networks", Value: orNone(prefixList(o.local))},
		{Name: "top N", Value: strconv.Itoa(int(c.Int("top")))},
	}
	settings = append(settings, dets.Settings()...)
	// The two summaries are independent and serial after the pass: side by
	// side they take the longer of the two.
	var tables []talkers.Table
	done := make(chan struct{})
	go func() { tables = tc.Tables(); close(done) }()
	result := acc.Result()
	<-done
	m := report.Build(report.Input{Version: version, GeneratedAt: o.generatedAt, Zone: o.zone, From: o.from, To: o.to,
		FirstFlow: first, LastFlow: last, Paths: paths, FilesSeen: sum.FilesSeen, FilesRead: sum.FilesRead, Flows: sum.Flows,
		Skips: sum.Sorted(), Partial: sum.Partial(), Settings: settings, Detectors: append([]string{"dscan"}, dets.Names()...),
		Result: result, Tables: tables})

	if err := writeReport(c, o, m); err != nil {
		return err
	}
	if sum.Partial() {
		fmt.Fprint(stdio.err, "flowsift: part of the input was skipped: ")
		sum.WriteText(stdio.err)
		return withCode(exitPartial, nil)
	}
	if c.Bool("fail-on-findings") && m.Findings() {
		return withCode(exitFindings, nil)
	}
	return nil
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

func readSuppress(base string) (*dscan.Suppress, error) {
	sup := &dscan.Suppress{}
	for _, which := range []string{"src", "dst"} {
		path := base + "." + which
		f, err := os.Open(path)
		if err != nil {
			fmt.Fprintf(stdio.err, "flowsift: warning: suppress list %s not read (%v)\n", path, err)
			continue
		}
		l, warns, err := dscan.ParseList(f, which, false)
		f.Close()
		if err != nil {
			return nil, withCode(exitUsage, fmt.Errorf("report: read %s: %w", path, err))
		}
		for _, w := range warns {
			fmt.Fprintf(stdio.err, "flowsift: %s: %s\n", path, strings.TrimSpace(w))
		}
		if which == "src" {
			sup.Src = l
		} else {
			sup.Dst = l
		}
	}
	return sup, nil
}

func render(format string, m *report.Model, w io.Writer) error {
	switch format {
	case "html":
		return report.HTML(w, m)
	case "md":
		return report.Markdown(w, m)
	case "json":
		return report.JSON(w, m)
	}
	return fmt.Errorf("format %q cannot go to one stream", format)
}

func writeReport(c *cli.Command, o *reportOpts, m *report.Model) error {
	fail := func(err error) error { return withCode(exitUsage, fmt.Errorf("report: %w", err)) }
	if c.Bool("mail") {
		subject := c.String("subject")
		if subject == "" {
			subject = fmt.Sprintf("flowsift report %s .. %s: %d scanners", m.Window.From, m.Window.To, len(m.Scanners))
		}
		var b bytes.Buffer
		if err := report.Mail(&b, m, c.String("mail-from"), o.mailTo, subject); err != nil {
			return fail(err)
		}
		if _, err := stdio.out.Write(b.Bytes()); err != nil {
			return fail(err)
		}
	}
	if out := c.String("o"); out != "" {
		format := strings.TrimPrefix(filepath.Ext(out), ".")
		if format == "markdown" {
			format = "md"
		}
		if format != "html" && format != "md" && format != "json" {
			if format == "csv" || (len(o.formats) == 1 && o.formats[0] == "csv") {
				return usageErr("report: -o %s: CSV is one file per table; use --out DIR --format csv", out)
			}
			if len(o.formats) != 1 {
				return usageErr("report: -o %s: give one --format (html, md or json)", out)
			}
			format = o.formats[0]
		}
		if out == "-" {
			return render(format, m, stdio.out)
		}
		if err := writeFileAtomic(out, func(w io.Writer) error { return render(format, m, w) }); err != nil {
			return fail(err)
		}
	}
	if dir := c.String("out"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fail(err)
		}
		// Every file renders straight into its temporary file; stage
		// writes them side by side (they only read the model), and commit
		// renames them together once all are written.
		var files stagedFiles
		for _, f := range o.formats {
			switch f {
			case "csv":
				csvDir := filepath.Join(dir, "csv")
				if err := os.MkdirAll(csvDir, 0o755); err != nil {
					return fail(err)
				}
				for _, t := range m.Tables() {
					files.add(filepath.Join(csvDir, t.Name+".csv"), func(w io.Writer) error { return report.CSV(w, t) })
				}
			default:
				name := map[string]string{"html": "report.html", "md": "report.md", "json": "report.json"}[f]
				files.add(filepath.Join(dir, name), func(w io.Writer) error { return render(f, m, w) })
			}
		}
		if err := files.stage(); err != nil {
			return fail(err)
		}
		if err := files.commit(); err != nil {
			return fail(err)
		}
	}
	return nil
}

// detectorNames are the detectors beyond dscan (issue 5), by the name
// their findings carry; --detectors selects among them.
var detectorNames = []string{"weighted-ports", "trw", "heuristics"}

// extraDetectors runs the detectors beyond dscan beside it, configured
// from the site policy.
type extraDetectors struct {
	names    []string
	weighted *weighted.Detector
	trw      *trw.Detector
	heur     *heuristics.Detector
	settings []report.Setting
}

func newExtraDetectors(pol *policy.Policy, local []netip.Prefix, enabled map[string]bool, sink analyze.Sink) *extraDetectors {
	d := &extraDetectors{}
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	if enabled["weighted-ports"] {
		cfg := pol.WeightedConfig()
		d.weighted = weighted.New(cfg, sink)
		d.names = append(d.names, "weighted-ports")
		d.settings = append(d.settings, report.Setting{Name: "weighted ports (scanlogd)", Value: fmt.Sprintf("weight >= %d, privileged port %d, other %d, gap <= %d ms",
			cfg.Threshold, cfg.PrivWeight, cfg.OtherWeight, cfg.MaxGapMS)})
	}
	if enabled["trw"] {
		cfg := pol.TRWConfig()
		d.trw = trw.New(cfg, sink)
		d.names = append(d.names, "trw")
		d.settings = append(d.settings, report.Setting{Name: "TRW", Value: fmt.Sprintf("theta0 %s, theta1 %s, alpha %s, beta %s, reply window %d ms",
			f(cfg.Theta0), f(cfg.Theta1), f(cfg.Alpha), f(cfg.Beta), cfg.WindowMS)})
	}
	if enabled["heuristics"] {
		cfg := pol.HeuristicsConfig()
		if len(local) > 0 {
			cfg.Local = local
		}
		d.heur = heuristics.New(cfg, sink)
		d.names = append(d.names, "heuristics")
		d.settings = append(d.settings, report.Setting{Name: "heuristics (seed 003)", Value: fmt.Sprintf("fan-out > %d peers, SYN-only > %d flows per %d ms window; %d special networks, %d plan ranges, %d roles, %d white-listed",
			cfg.FanOut, cfg.SynOnly, cfg.WindowMS, len(cfg.Special), len(cfg.Plan), len(cfg.Roles), len(cfg.Whitelist))})
	}
	return d
}

func (d *extraDetectors) Process(b flow.Batch) {
	if d.weighted != nil {
		d.weighted.Add(b)
	}
	if d.trw != nil {
		d.trw.Add(b)
	}
	if d.heur != nil {
		d.heur.Add(b)
	}
}

func (d *extraDetectors) Flush() {
	if d.trw != nil {
		d.trw.Flush()
	}
}

func (d *extraDetectors) Names() []string            { return d.names }
func (d *extraDetectors) Settings() []report.Setting { return d.settings }

// parseDetectors reads --detectors: "all", "dscan" alone, or a list.
func parseDetectors(v string) (map[string]bool, error) {
	on := map[string]bool{}
	for _, n := range strings.Split(v, ",") {
		switch n = strings.TrimSpace(n); n {
		case "all":
			for _, d := range detectorNames {
				on[d] = true
			}
		case "dscan", "":
		default:
			if !slices.Contains(detectorNames, n) {
				return nil, fmt.Errorf("--detectors: unknown detector %q (dscan, %s, all)", n, strings.Join(detectorNames, ", "))
			}
			on[n] = true
		}
	}
	return on, nil
}
