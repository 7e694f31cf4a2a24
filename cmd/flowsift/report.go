package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/flowsift/flowsift/analyze/dscan"
	"github.com/flowsift/flowsift/analyze/talkers"
	"github.com/flowsift/flowsift/internal/atomicfile"
	"github.com/flowsift/flowsift/internal/names"
	"github.com/flowsift/flowsift/pass"
	"github.com/flowsift/flowsift/policy"
	"github.com/flowsift/flowsift/report"
)

func init() {
	def := pass.DefaultConfiguration()
	register(&cli.Command{
		Name:  "report",
		Usage: "forensic report: scanners, targets, top talkers, suppress suggestions (HTML, Markdown, CSV, JSON, mail)",
		UsageText: `flowsift report [--from T] [--to T] [--tz ZONE] [--local CIDR,...] [--suppress BASE]
  [--policy FILE] [--detectors all|dscan|LIST] [--format html,md,csv,json]
  [--out DIR | -o FILE] [--mail --to ADDR --subject S] [--top N] [-j N] [--memory SIZE]
  [--generated-at T] [--fail-on-findings] [--include-partial] [--strict] PATH...

Reads anything ingest reads, runs the dscan engine in default mode plus the
other detectors (weighted ports, TRW, heuristics, vertical scans, password
guessing; configured by --policy), host roles and top-talker statistics in
one pass, and writes the report. --out DIR gets
each report as a set in DIR/.flowsift/, published by one rename of the link
DIR/current (DIR/report.html, DIR/csv/... link into it), under a lock: a
failed or killed run leaves the previous report whole, and a second run on
the same DIR stops with exit 2. generated-at:
--generated-at, else
SOURCE_DATE_EPOCH, else now; nothing else depends on the clock.
--to takes a time (end of the window) or, with --mail, an address (a value
containing "@"); --mail-to is the same as the latter.
Exit codes: 0 done, 1 findings not held back by a host's role and
--fail-on-findings, 2 bad input or
options (or --strict and damaged input), 3 done but part of the input was
skipped, 130/143 stopped by SIGINT/SIGTERM.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "from", Usage: "window start (RFC 3339, or YYYY-MM-DD[ HH:MM[:SS]] in --tz)"},
			&cli.StringSliceFlag{Name: "to", Usage: "window end (time), or the mail recipient with --mail"},
			&cli.StringFlag{Name: "tz", Value: "UTC", Usage: "zone for local times in the report and for --from/--to without offset"},
			&cli.StringSliceFlag{Name: "local", Usage: "local networks (CIDR), comma-separated or repeated"},
			&cli.StringFlag{Name: "policy", Usage: "site policy file (TOML; see samples/policy.example.toml): local networks, white-lists, address plan, roles, thresholds"},
			&cli.StringFlag{Name: "detectors", Value: "all", Usage: "detectors beside dscan: all, dscan (dscan alone), or a list of weighted-ports, trw, heuristics, vscan (vertical scans, slow ones too), guess (password guessing)"},
			&cli.StringFlag{Name: "suppress", Usage: "dscan suppress lists BASE.src and BASE.dst (flow-dscan syntax, CIDR allowed); overrides the policy's dscan.suppress"},
			&cli.StringFlag{Name: "format", Value: "html,md,csv,json", Usage: "formats to write with --out (html, md, csv, json)"},
			&cli.StringFlag{Name: "out", Usage: "directory for report.html, report.md, report.json and csv/"},
			&cli.StringFlag{Name: "o", Usage: "one file (format from its extension or a single --format); - for stdout"},
			&cli.BoolFlag{Name: "mail", Usage: "write a MIME message (text + HTML) to stdout, for sendmail -t"},
			&cli.StringFlag{Name: "mail-to", Usage: "mail recipient"},
			&cli.StringFlag{Name: "mail-from", Usage: "mail sender address (default flowsift@ this host's name)"},
			&cli.StringFlag{Name: "subject", Usage: "mail subject (default: flowsift report and the window)"},
			&cli.IntFlag{Name: "top", Value: def.Talkers.N, Usage: "rows of each top-talker table (policy: talkers.top)"},
			jobsFlag(),
			&cli.StringFlag{Name: "memory", Value: pass.FormatSize(pass.DefaultMemory), Usage: "memory budget of the pass (1GiB, 512M, ...; 0 = none): the top talkers spill to $TMPDIR beyond a quarter of it, with the same numbers"},
			&cli.StringFlag{Name: "huge-pages", Value: "auto", Usage: "transparent huge pages for the heap set aside for the pass: auto (where page faults are slow, as on some virtual machines), on or off; never changes the output"},
			exportDelayFlag(),
			&cli.StringFlag{Name: "generated-at", Usage: "generated-at stamp (RFC 3339); default SOURCE_DATE_EPOCH, else now"},
			&cli.BoolFlag{Name: "fail-on-findings", Usage: "exit 1 when the report lists scanners or excessive flows"},
			&cli.BoolFlag{Name: "include-partial", Usage: "read tmp- files of a capture in progress"},
			&cli.BoolFlag{Name: "strict", Usage: "the first input not read whole (a bad row, a damaged or unreadable file) stops the run: exit 2, nothing written"},
			&cli.IntFlag{Name: "depth", Value: def.Dscan.Depth, Usage: "dscan: destinations before a host scan (-D)"},
			&cli.IntFlag{Name: "port-trigger", Value: def.Dscan.PortTrigger, Usage: "dscan: ports of one host before a port scan (-S)"},
			&cli.Uint64Flag{Name: "ager-timeout", Value: def.Dscan.AgerTimeout, Usage: "dscan: flows a destination is remembered (-t)"},
			&cli.Uint64Flag{Name: "octets", Value: def.Dscan.Octets, Usage: "excessive flow: more octets than this (0 = off; policy: dscan.octets)"},
			&cli.Uint64Flag{Name: "packets", Value: def.Dscan.Packets, Usage: "excessive flow: more packets than this (0 = off; policy: dscan.packets)"},
			&cli.Uint64Flag{Name: "duration", Value: uint64(def.Dscan.Time), Usage: "excessive flow: lasting longer, ms (0 = off; policy: dscan.duration_ms)"},
		},
		Action: runReport,
	})
}

type reportOpts struct {
	exportDelay time.Duration
	zone        *time.Location
	mailTo      string
	formats     []string
	generatedAt time.Time
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

// reportConfig fills the pass's configuration: defaults, then the policy
// file, then the flags; Validate checks the result once.
func reportConfig(c *cli.Command) (pass.Configuration, *reportOpts, error) {
	cfg := pass.DefaultConfiguration()
	o := &reportOpts{}
	var err error
	if o.zone, err = time.LoadLocation(c.String("tz")); err != nil {
		return cfg, nil, fmt.Errorf("--tz: %v", err)
	}
	if o.exportDelay, err = parseDelay(c.String("export-delay")); err != nil {
		return cfg, nil, err
	}
	if s := c.String("from"); s != "" {
		if cfg.From, err = parseWhen(s, o.zone); err != nil {
			return cfg, nil, fmt.Errorf("--from: %v", err)
		}
	}
	o.mailTo = c.String("mail-to")
	for _, v := range c.StringSlice("to") {
		if strings.Contains(v, "@") {
			o.mailTo = v
			continue
		}
		if cfg.To, err = parseWhen(v, o.zone); err != nil {
			return cfg, nil, fmt.Errorf("--to: %v", err)
		}
	}
	pol := policy.Default()
	if p := c.String("policy"); p != "" {
		if pol, err = policy.Load(p); err != nil {
			return cfg, nil, err
		}
		cfg.PolicyFile = p
	}
	pol.Apply(&cfg)
	var local []netip.Prefix
	for _, v := range c.StringSlice("local") {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p == "" {
				continue
			}
			pf, err := netip.ParsePrefix(p)
			if err != nil {
				return cfg, nil, fmt.Errorf("--local: %v", err)
			}
			local = append(local, pf.Masked())
		}
	}
	if len(local) > 0 {
		cfg.Local = local
	}
	for _, f := range strings.Split(c.String("format"), ",") {
		switch f = strings.TrimSpace(f); f {
		case "html", "md", "csv", "json":
			o.formats = append(o.formats, f)
		case "":
		default:
			return cfg, nil, fmt.Errorf("--format: unknown format %q (html, md, csv, json)", f)
		}
	}
	if cfg.Detectors, err = pass.ParseDetectors(c.String("detectors")); err != nil {
		return cfg, nil, fmt.Errorf("--detectors: %v", err)
	}
	if c.IsSet("depth") {
		cfg.Dscan.Depth = int(c.Int("depth"))
	}
	if c.IsSet("port-trigger") {
		cfg.Dscan.PortTrigger = int(c.Int("port-trigger"))
	}
	if c.IsSet("ager-timeout") {
		cfg.Dscan.AgerTimeout = c.Uint64("ager-timeout")
	}
	if c.IsSet("top") {
		cfg.Talkers.N = int(c.Int("top"))
	}
	cfg.Jobs = int(c.Int("j"))
	if cfg.Memory, err = pass.ParseSize(c.String("memory")); err != nil {
		return cfg, nil, fmt.Errorf("--%v", err)
	}
	if cfg.HugePages, err = pass.ParseHugePages(c.String("huge-pages")); err != nil {
		return cfg, nil, fmt.Errorf("--%v", err)
	}
	if c.IsSet("octets") {
		cfg.Dscan.Octets = c.Uint64("octets")
	}
	if c.IsSet("packets") {
		cfg.Dscan.Packets = c.Uint64("packets")
	}
	if c.IsSet("duration") {
		d := c.Uint64("duration")
		if d > math.MaxUint32 {
			return cfg, nil, fmt.Errorf("--duration %d: at most %d ms (flow-tools' 32-bit times)", d, uint32(math.MaxUint32))
		}
		cfg.Dscan.Time = uint32(d)
	}
	if c.IsSet("suppress") {
		cfg.SuppressFile = c.String("suppress")
	}
	if base := cfg.SuppressFile; base != "" {
		if cfg.Dscan.Suppress, err = dscan.LoadSuppress(base, false, dscan.SuppressLog{
			Reject: true,
			Warn:   func(path, text string) { fmt.Fprintf(stdio.err, "flowsift: %s: %s\n", path, strings.TrimSpace(text)) },
			Missing: func(path string, err error) {
				fmt.Fprintf(stdio.err, "flowsift: warning: suppress list %s not read (%s)\n", quoteName(path), names.OneLine(err.Error()))
			},
		}); err != nil {
			return cfg, nil, err
		}
	}
	cfg.Episodes.Archive = strings.Join(c.Args().Slice(), " ")
	if err := cfg.Validate(); err != nil {
		return cfg, nil, err
	}
	if o.generatedAt, err = generatedAt(c.String("generated-at")); err != nil {
		return cfg, nil, fmt.Errorf("--generated-at: %v", err)
	}
	if c.Bool("mail") && o.mailTo == "" {
		return cfg, nil, fmt.Errorf("--mail needs --to ADDR (or --mail-to)")
	}
	if c.Bool("mail") {
		if err := report.CheckMail(mailFrom(c.String("mail-from")), o.mailTo); err != nil {
			return cfg, nil, err
		}
	}
	if !c.Bool("mail") && c.String("out") == "" && c.String("o") == "" {
		return cfg, nil, fmt.Errorf("say where the report goes: --out DIR, -o FILE or --mail")
	}
	if c.NArg() == 0 {
		return cfg, nil, fmt.Errorf("no input paths")
	}
	return cfg, o, nil
}

func runReport(ctx context.Context, c *cli.Command) error {
	cfg, o, err := reportConfig(c)
	if err != nil {
		return usageErr("report: %v", err)
	}
	paths := c.Args().Slice()
	// Where the report goes is checked, and --out locked, before any input
	// is read: an unwritable or busy target must not cost a whole pass.
	var outDir *atomicfile.Dir
	if dir := c.String("out"); dir != "" {
		if outDir, err = atomicfile.OpenDir(dir); err != nil {
			return usageErr("report: --out %s: %v; nothing written", quoteName(dir), err)
		}
		defer outDir.Close()
	}
	if out := c.String("o"); out != "" && out != "-" {
		if err := atomicfile.CheckWritable(out); err != nil {
			return usageErr("report: -o %s: cannot write: %v", quoteName(out), err)
		}
	}
	res, err := pass.RunReport(ctx, cfg, pass.Inputs{Paths: paths, Stdin: stdio.in, Progress: pass.ProgressWriter(stdio.err),
		IncludePartial: c.Bool("include-partial"), Strict: c.Bool("strict"), ExportDelay: o.exportDelay})
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("report: %w", err))
	}
	phase("building the report")
	m := buildModel(res, cfg, o, paths)
	phase("writing the report")
	if err := writeReport(c, o, m, outDir); err != nil {
		return err
	}
	reportDone(c.String("out"), c.String("o"), c.Bool("mail"), m)
	sum := res.Summary
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

// buildModel turns the pass's result into the report's model.
func buildModel(res *pass.Result, cfg pass.Configuration, o *reportOpts, paths []string) *report.Model {
	setFollowUps(res)
	var settings []report.Setting
	for _, s := range res.Settings {
		settings = append(settings, report.Setting(s))
	}
	if s, ok := spillSetting(res.TalkerSpills, res.TalkerSpillBytes); ok {
		settings = append(settings, s)
	}
	sum := res.Summary
	var sources []report.InputSource
	for _, s := range sum.Sources {
		sources = append(sources, report.InputSource{Path: s.Path, Files: s.Files, Skipped: s.Skipped, Flows: s.Flows, First: s.First, Last: s.Last})
	}
	return report.Build(report.Input{Version: version, GeneratedAt: o.generatedAt, Zone: o.zone, From: cfg.From, To: cfg.To,
		FirstFlow: res.FirstFlow, LastFlow: res.LastFlow, Paths: paths, Sources: sources, FilesSeen: sum.FilesSeen, FilesRead: sum.FilesRead,
		Flows: sum.Flows, Skips: sum.Sorted(), Partial: sum.Partial(), Settings: settings, Detectors: res.Detectors,
		Result: res.Episodes, Tables: res.Tables, Local: cfg.Local, Assessment: res.Assessment})
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

func writeReport(c *cli.Command, o *reportOpts, m *report.Model, outDir *atomicfile.Dir) error {
	fail := func(err error) error { return withCode(exitUsage, fmt.Errorf("report: %w", err)) }
	if c.Bool("mail") {
		subject := c.String("subject")
		if subject == "" {
			subject = m.Subject()
		}
		var b bytes.Buffer
		if err := report.Mail(&b, m, mailFrom(c.String("mail-from")), o.mailTo, subject); err != nil {
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
		if err := atomicfile.Write(out, func(w io.Writer) error { return render(format, m, w) }); err != nil {
			return fail(err)
		}
	}
	if outDir != nil {
		// The files render into a set directory of their own, side by side
		// (they only read the model); the set is published with one rename,
		// so readers of --out see this report whole or the previous one.
		dir, err := outDir.Stage()
		if err != nil {
			return fail(err)
		}
		var files atomicfile.Set
		var names []string
		for _, f := range o.formats {
			switch f {
			case "csv":
				csvDir := filepath.Join(dir, "csv")
				if err := atomicfile.Guard(func() error { return os.Mkdir(csvDir, 0o755) }); err != nil {
					return fail(err)
				}
				for _, t := range m.CSVTables() {
					files.Add(filepath.Join(csvDir, t.Name+".csv"), func(w io.Writer) error { return report.CSV(w, t) })
				}
				names = append(names, "csv")
			default:
				name := map[string]string{"html": "report.html", "md": "report.md", "json": "report.json"}[f]
				files.Add(filepath.Join(dir, name), func(w io.Writer) error { return render(f, m, w) })
				names = append(names, name)
			}
		}
		if err := files.Stage(); err != nil {
			return fail(err)
		}
		if err := files.Commit(); err != nil {
			return fail(err)
		}
		if err := outDir.Publish(names); err != nil {
			return fail(err)
		}
	}
	return nil
}

// spillSetting says, among the settings, that the top talkers went to
// temporary files to keep within --memory: an operator who sees the run
// take longer or fill $TMPDIR finds why, and that the numbers are still
// exact. A run that stayed in memory gets no line.
func spillSetting(spills int, bytes int64) (report.Setting, bool) {
	if spills == 0 {
		return report.Setting{}, false
	}
	times := "once"
	if spills > 1 {
		times = report.Commas(spills) + " times"
	}
	return report.Setting{Name: "top talkers spilled",
		Value: fmt.Sprintf("%s to stay within --memory: %s bytes (%.1f MiB) into %d hash partitions in temporary files, removed; the counts are exact",
			times, report.Commas(bytes), float64(bytes)/(1<<20), talkers.SpillPartitions)}, true
}
