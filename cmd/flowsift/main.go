// Command flowsift reads archived NetFlow, replays it in time order through
// flow-dscan's scan detector and newer detectors, and writes reports.
//
// Each subcommand lives in its own file and registers itself with
// register(); main only wires logging, exit codes and the version.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"sort"
	"syscall"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/flowsift/flowsift/ingest"
	"github.com/flowsift/flowsift/internal/atomicfile"
	"github.com/flowsift/flowsift/internal/names"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// Exit codes, documented in the README.
const (
	exitOK       = 0 // done
	exitFindings = 1 // done, findings present and --fail-on-findings given
	exitUsage    = 2 // bad options or unreadable input
	exitPartial  = 3 // done, but part of the input was skipped
)

// exitError carries an exit code out of a subcommand.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// withCode wraps err so that main exits with code.
func withCode(code int, err error) error { return &exitError{code: code, err: err} }

// usageErr is the common case: a bad option or value.
func usageErr(format string, a ...any) error {
	return withCode(exitUsage, fmt.Errorf(format, a...))
}

// jobsFlag is -j, the same for every command: the number of goroutines
// the pass may use (pass.Configuration.Jobs).
func jobsFlag() cli.Flag {
	return &cli.IntFlag{Name: "j", Aliases: []string{"jobs"}, Value: runtime.NumCPU(),
		Usage: "goroutines the pass may use: files decoded at once, and analysers at work on a batch at once; never changes the output"}
}

// exportDelayFlag is --export-delay, the same for every command.
func exportDelayFlag() cli.Flag {
	return &cli.StringFlag{Name: "export-delay", Value: ingest.DefaultExportDelay.String(),
		Usage: "how long before its file's capture start a flow may end (exporters send flows after they end): windows read the files that can hold their flows by it, and the merge of several trees relies on it; 0 = files hold only flows of their own period"}
}

// parseDelay reads an --export-delay value: a Go duration ("15m",
// "90s"); 0 is no delay at all (ingest takes that as a negative value,
// its zero being the default).
func parseDelay(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("--export-delay %q: want a duration such as 15m or 90s (0 for none)", v)
	}
	if d == 0 {
		return -1, nil
	}
	return d, nil
}

var commands []*cli.Command

// register adds a subcommand; called from init() in each command's file.
func register(c *cli.Command) { commands = append(commands, c) }

func newApp(stdout, stderr io.Writer, prof *cpuProfile) *cli.Command {
	sorted := append([]*cli.Command(nil), commands...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	return &cli.Command{
		Name:      "flowsift",
		Usage:     "find scanners and heavy hitters in archived NetFlow",
		Version:   version,
		Writer:    stdout,
		ErrWriter: stderr,
		Commands:  sorted,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "log-level", Value: "warn", Usage: "debug, info, warn or error (logs go to stderr)"},
			&cli.StringFlag{Name: "cpuprofile", Usage: "write a CPU profile of the run to `FILE` (for go tool pprof)"},
		},
		Before: func(ctx context.Context, c *cli.Command) (context.Context, error) {
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(c.String("log-level"))); err != nil {
				return ctx, usageErr("--log-level: %v", err)
			}
			slog.SetDefault(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl})))
			return ctx, prof.start(c.String("cpuprofile"))
		},
		ExitErrHandler: func(context.Context, *cli.Command, error) {},
	}
}

// run is main without os.Exit, so tests can drive the real CLI.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	stdio = ioSet{in: stdin, out: stdout, err: stderr}
	defer clearStatus(stderr)
	var prof cpuProfile
	app := newApp(stdout, stderr, &prof)
	err := app.Run(ctx, args)
	if perr := prof.stop(); perr != nil && err == nil {
		err = perr
	}
	if err == nil {
		return exitOK
	}
	if atomicfile.Interrupted() {
		return exitUsage // main leaves the exit to the signal handler
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(stderr, "flowsift: %s\n", names.OneLine(ee.err.Error()))
		}
		return ee.code
	}
	fmt.Fprintf(stderr, "flowsift: %s\n", names.OneLine(err.Error()))
	return exitUsage
}

// ioSet is the standard streams of the current run; tests replace them.
type ioSet struct {
	in       io.Reader
	out, err io.Writer
}

var stdio = ioSet{in: os.Stdin, out: os.Stdout, err: os.Stderr}

func main() {
	stopOnSignal()
	code := run(context.Background(), os.Args, os.Stdin, os.Stdout, stderrFor(os.Stderr))
	if atomicfile.Interrupted() {
		// The signal handler is removing the temporaries and exits with
		// 128+n; the error the interruption caused here must not win.
		select {}
	}
	os.Exit(code)
}

// stopOnSignal makes SIGINT and SIGTERM stop the process at once: the
// temporary files of unpublished output are removed, what was published
// before stays, and the exit code is 128 plus the signal number (130,
// 143), as a shell reports a process killed by it. Waiting for the pass
// to notice a cancelled context instead would let a long decode or render
// run on.
func stopOnSignal() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		sig := <-sigs
		removed := atomicfile.Interrupt()
		fmt.Fprintf(os.Stderr, "flowsift: stopped by %v; %d temporary files removed, earlier output left as it was\n", sig, len(removed))
		os.Exit(exitSignal(sig))
	}()
}

// exitSignal is the documented exit code of a run stopped by sig.
func exitSignal(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return exitUsage
}

// quoteName prints a path in a message: as it is when plain, else quoted
// and escaped, so that a name cannot forge a line of output.
func quoteName(s string) string { return names.Quote(s) }
