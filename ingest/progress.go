package ingest

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// IsTerminal reports whether f is a terminal: the CLI shows a progress bar
// only then, so cron mail stays clean.
func IsTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// Term is a terminal's standard error shared by a status line (progress,
// the phase a command is in) and ordinary lines (alerts, warnings): before
// a line is written the status line is cleared, and once the line is
// complete the status is drawn again under it, so the two never run into
// each other. The CLI wraps standard error in a Term only when it is a
// terminal; anything else (cron, a log file) gets the plain stream and no
// status at all.
type Term struct {
	mu      sync.Mutex
	w       io.Writer
	status  string
	shown   bool
	midLine bool // the last ordinary write did not end its line
}

// NewTerm wraps w.
func NewTerm(w io.Writer) *Term { return &Term{w: w} }

// Write writes ordinary output.
func (t *Term) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.clear()
	n, err := t.w.Write(p)
	if len(p) > 0 {
		t.midLine = p[len(p)-1] != '\n'
	}
	t.draw()
	return n, err
}

// Status sets the status line; "" removes it.
func (t *Term) Status(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.clear()
	t.status = s
	t.draw()
}

func (t *Term) clear() {
	if t.shown {
		io.WriteString(t.w, "\r\033[K")
		t.shown = false
	}
}

func (t *Term) draw() {
	if t.status != "" && !t.midLine {
		io.WriteString(t.w, t.status)
		t.shown = true
	}
}

// progress is the status line of a run: files, flows, the rate and the
// time left, redrawn at most every 200 ms.
type progress struct {
	w            io.Writer
	total, files int
	totalBytes   int64 // sizes of the regular files to read; 0 = unknown
	bytes        int64
	flows        uint64
	start, last  time.Time
}

func newProgress(w io.Writer, total int, totalBytes int64) *progress {
	return &progress{w: w, total: total, totalBytes: totalBytes, start: time.Now()}
}

func (p *progress) file(flows int, size int64) {
	if p == nil || p.w == nil {
		return
	}
	p.files++
	p.flows += uint64(flows)
	p.bytes += size
	if now := time.Now(); now.Sub(p.last) >= 200*time.Millisecond || p.files == p.total {
		p.last = now
		p.show(progressLine(p.files, p.total, p.flows, p.bytes, p.totalBytes, now.Sub(p.start)))
	}
}

func (p *progress) show(s string) {
	if t, ok := p.w.(*Term); ok {
		t.Status(s)
		return
	}
	fmt.Fprintf(p.w, "\r%s ", s)
}

// progressLine says how far a run is: "files 12/96  flows 1,234,567
// 410,000 flows/s  about 1 min 20 s left". The time left is reckoned
// from the bytes read when the sizes are known, else from the files.
func progressLine(files, total int, flows uint64, done, totalBytes int64, elapsed time.Duration) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "files %d/%d  flows %s", files, total, group(flows))
	if s := elapsed.Seconds(); s >= 0.5 {
		fmt.Fprintf(&b, "  %s flows/s", group(uint64(float64(flows)/s)))
		frac := float64(files) / float64(max(total, 1))
		if totalBytes > 0 && done > 0 {
			frac = float64(done) / float64(totalBytes)
		}
		if frac > 0 && frac < 1 {
			left := time.Duration(float64(elapsed) * (1 - frac) / frac)
			fmt.Fprintf(&b, "  about %s left", roughly(left))
		}
	}
	return b.String()
}

// roughly prints a duration as a person reads an estimate.
func roughly(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Round(time.Second).Seconds()))
	case d < time.Hour:
		d = d.Round(10 * time.Second)
		return fmt.Sprintf("%d min %d s", int(d.Minutes()), int(d.Seconds())%60)
	}
	d = d.Round(time.Minute)
	return fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
}

func group(n uint64) string {
	s := fmt.Sprint(n)
	var b bytes.Buffer
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func (p *progress) done() {
	if p == nil || p.w == nil || p.files == 0 {
		return
	}
	if t, ok := p.w.(*Term); ok {
		// The command goes on (episodes, tables, the report): say so
		// until it shows its next phase or ends.
		t.Status(fmt.Sprintf("read %s flows from %d files in %s; finishing the analysis", group(p.flows), p.files, roughly(time.Since(p.start))))
		return
	}
	fmt.Fprint(p.w, "\r\033[K")
}

// fileBytes is the size of the regular files among inputs; whole says
// whether that is all of the input (no stream, no file that could not be
// sized), which the progress bar's time left needs.
func fileBytes(inputs []Input) (n int64, whole bool) {
	whole = true
	for _, in := range inputs {
		if in.Stdin || in.Stream {
			whole = false
			continue
		}
		fi, err := os.Stat(in.Path)
		if err != nil {
			whole = false
			continue
		}
		n += fi.Size()
	}
	return n, whole
}
