package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/flowsift/flowsift/ingest"
	"github.com/flowsift/flowsift/report"
)

// stderrFor is the standard error the commands write to: on a terminal an
// ingest.Term, which keeps the progress and phase line apart from alert
// and warning lines; anything else (cron, a file, a pipe) as it is, so
// that nothing there changes.
func stderrFor(f *os.File) io.Writer {
	if ingest.IsTerminal(f) {
		return ingest.NewTerm(f)
	}
	return f
}

// phase shows what a command is doing after the pass (on a terminal only).
func phase(s string) {
	if t, ok := stdio.err.(*ingest.Term); ok {
		t.Status(s)
	}
}

// clearStatus removes the status line before the command ends.
func clearStatus(w io.Writer) {
	if t, ok := w.(*ingest.Term); ok {
		t.Status("")
	}
}

// finalLine is the one line a successful command prints on a terminal:
// where the result went and what it found.
func finalLine(format string, a ...any) {
	if t, ok := stdio.err.(*ingest.Term); ok {
		t.Status("")
		fmt.Fprintf(t, "flowsift: "+format+"\n", a...)
	}
}

// reportDone is report's final line: where the report went and its
// headline.
func reportDone(out, file string, mail bool, m *report.Model) {
	var where []string
	if out != "" {
		where = append(where, out+string(os.PathSeparator))
	}
	switch {
	case file == "-":
		where = append(where, "standard output")
	case file != "":
		where = append(where, file)
	}
	if mail {
		where = append(where, "a mail on standard output")
	}
	finalLine("report in %s: %s.", strings.Join(where, " and "), m.Headline())
}
