package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/flowsift/flowsift/internal/atomicfile"
	"github.com/flowsift/flowsift/samples"
)

func init() {
	register(&cli.Command{
		Name:  "samples",
		Usage: "write a realistic flow-capture archive with known scans, and its ground truth",
		UsageText: `flowsift samples --out DIR [--flows N] [--seed S] [--start TIME] [--hours H] [--force] [--partial]
  [--background-sources N]

Writes DIR as a flow-capture tree (compressed v5, one file per 15 minutes)
and the ground truth as DIR.truth.json beside it (kept out of the tree so
that reading DIR reads only flow files). --background-sources N adds N
external sources never seen before, each sending 3 unanswered SYNs to the
site (Internet background radiation; no scanner), in place of as many
ordinary flows.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Required: true, Usage: "directory to write (must be empty or absent)"},
			&cli.IntFlag{Name: "flows", Value: 60000, Usage: "number of flows (at least 20000)"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "random seed; the same seed gives the same bytes"},
			&cli.StringFlag{Name: "start", Value: "2026-11-20T00:00:00Z", Usage: "window start (RFC 3339)"},
			&cli.IntFlag{Name: "hours", Value: 6, Usage: "window length in hours"},
			&cli.StringFlag{Name: "truth", Usage: "ground truth file (default DIR.truth.json)"},
			&cli.BoolFlag{Name: "force", Usage: "write into a non-empty directory"},
			&cli.IntFlag{Name: "background-sources", Usage: "distinct external sources of background radiation, 3 unanswered probes each (counted in --flows)"},
			&cli.BoolFlag{Name: "partial", Usage: "leave the last period as a killed capture's tmp- file (truncated), for tests"},
		},
		Action: func(ctx context.Context, c *cli.Command) error {
			out := c.String("out")
			start, err := time.Parse(time.RFC3339, c.String("start"))
			if err != nil {
				return usageErr("samples --start: %v", err)
			}
			if ents, err := os.ReadDir(out); err == nil && len(ents) > 0 {
				if !c.Bool("force") {
					return usageErr("samples: %s is not empty (use --force)", out)
				}
				if err := os.RemoveAll(out); err != nil {
					return withCode(exitUsage, err)
				}
			}
			truth, err := samples.WriteTree(out, samples.Config{Seed: c.Uint64("seed"), Flows: int(c.Int("flows")), Start: start, Hours: int(c.Int("hours")), Partial: c.Bool("partial"),
				BackgroundSources: int(c.Int("background-sources"))})
			if err != nil {
				return usageErr("%v", err)
			}
			tp := c.String("truth")
			if tp == "" {
				tp = out + ".truth.json"
			}
			b, err := samples.MarshalTruth(truth)
			if err == nil {
				err = atomicfile.Write(tp, func(w io.Writer) error { _, err := w.Write(b); return err })
			}
			if err != nil {
				return withCode(exitUsage, fmt.Errorf("samples: write %s: %w", tp, err))
			}
			fmt.Fprintf(stdio.out, "wrote %d flows to %s (%d injected events; truth in %s)\n", truth.Flows, out, len(truth.Events), tp)
			return nil
		},
	})
}
