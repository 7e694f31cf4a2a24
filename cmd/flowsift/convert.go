package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/flowsift/flowsift/export"
	"github.com/flowsift/flowsift/pass"
)

func init() {
	register(&cli.Command{
		Name:  "convert",
		Usage: "convert flows to Parquet or flow-export CSV",
		UsageText: `flowsift convert --to parquet|csv [--partition hour|day] [-j N] [--include-partial]
    [--from T] [--until T] [--tz ZONE] [--nfdump-tz ZONE] [--strict] [--compat-byte-order] INPUT... OUT

Reads every INPUT as the other commands do (flow-tools files and trees, nfcapd
files and directories, flow-export and nfdump CSV, Parquet; - for a flow-tools
stream on stdin), in time order, and
writes OUT. CSV: OUT is a file or - for stdout; the columns are the union of the
fields the inputs have, in flow-export -f2's format (byte-identical for one
flow-tools file). Parquet: OUT is a file, or with --partition a new directory
of Hive-style date=YYYY-MM-DD[/hour=HH]/part-NNNNN.parquet folders by flow end
(UTC). OUT appears only when the conversion is complete.
--from/--until select flows by end time (from inclusive, until exclusive), reading
the files that can hold them (the time in their names and --export-delay).`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "to", Usage: "output format: parquet or csv"},
			&cli.StringFlag{Name: "partition", Usage: "parquet only: hour or day folders (OUT is a directory)"},
			jobsFlag(),
			exportDelayFlag(),
			&cli.BoolFlag{Name: "include-partial", Usage: "read tmp- files of a capture in progress"},
			&cli.StringFlag{Name: "from", Usage: "window start (RFC 3339, or YYYY-MM-DD[ HH:MM[:SS]] in --tz)"},
			&cli.StringFlag{Name: "until", Usage: "window end, exclusive (same forms as --from)"},
			&cli.StringFlag{Name: "tz", Value: "UTC", Usage: "zone for --from/--until without offset"},
			&cli.BoolFlag{Name: "strict", Usage: "the first input not read whole (a bad row, a damaged or unreadable file) stops the run: exit 2, nothing written"},
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
	cfg := pass.DefaultConfiguration()
	cfg.Jobs, cfg.From, cfg.To = c.Int("j"), o.from, o.until
	delay, err := parseDelay(c.String("export-delay"))
	if err != nil {
		return usageErr("convert: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		return usageErr("convert: %v", err)
	}
	var out export.Writer
	switch {
	case o.to == "csv":
		out, err = export.NewCSV(o.out, stdio.out)
	case o.partition != "":
		out, err = export.NewPartitioned(o.out, o.partition)
	default:
		out, err = export.NewParquet(o.out)
	}
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("convert: %w", err))
	}
	st, err := pass.Run(ctx, cfg, pass.Inputs{Paths: o.inputs, Stdin: stdio.in, Progress: pass.ProgressWriter(stdio.err),
		IncludePartial: c.Bool("include-partial"), Strict: c.Bool("strict"), CompatByteOrder: c.Bool("compat-byte-order"),
		NfdumpZone: o.nfdumpZone, ExportDelay: delay}, []pass.Analyser{pass.Func(out.Write)})
	if err != nil {
		out.Abort()
		return withCode(exitUsage, fmt.Errorf("convert: %w", err))
	}
	sum := st.Summary
	if c.Bool("strict") && sum.Partial() {
		// ingest makes a bad row fatal for its file only; for convert,
		// --strict means no output from incomplete input.
		out.Abort()
		fmt.Fprint(stdio.err, "flowsift: run summary: ")
		sum.WriteText(stdio.err)
		return withCode(exitUsage, fmt.Errorf("convert: --strict: input skipped, %s not written", o.out))
	}
	if err := out.Commit(); err != nil {
		return withCode(exitUsage, fmt.Errorf("convert: %w", err))
	}
	if sum.Partial() {
		fmt.Fprint(stdio.err, "flowsift: run summary: ")
		sum.WriteText(stdio.err)
		return withCode(exitPartial, nil)
	}
	return nil
}
