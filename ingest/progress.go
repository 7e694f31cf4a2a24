package ingest

import (
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/term"
)

// IsTerminal reports whether f is a terminal: the CLI shows a progress bar
// only then, so cron mail stays clean.
func IsTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// progress is a one-line files/flows counter, redrawn at most every 200 ms.
type progress struct {
	w            io.Writer
	total, files int
	flows        uint64
	last         time.Time
}

func newProgress(w io.Writer, total int) *progress { return &progress{w: w, total: total} }

func (p *progress) file(flows int) {
	if p == nil || p.w == nil {
		return
	}
	p.files++
	p.flows += uint64(flows)
	if now := time.Now(); now.Sub(p.last) >= 200*time.Millisecond || p.files == p.total {
		p.last = now
		fmt.Fprintf(p.w, "\rfiles %d/%d  flows %d ", p.files, p.total, p.flows)
	}
}

func (p *progress) done() {
	if p == nil || p.w == nil || p.files == 0 {
		return
	}
	fmt.Fprint(p.w, "\r\033[K")
}
