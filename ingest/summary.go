package ingest

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/internal/names"
	"github.com/flowsift/flowsift/internal/sourcelag"
)

// Summary is what a run read and what it passed over.
type Summary struct {
	FilesSeen int    // inputs found (read or not)
	FilesRead int    // inputs decoded (possibly with a bad tail or rows)
	Flows     uint64 // flows delivered to the sink
	Bytes     int64  // bytes of the files read
	Skips     []flow.Skip
	// Sources has one entry per input path, in command-line order: one
	// router's tree in the usual archive, so that a router that stopped
	// exporting shows at once.
	Sources []Source

	// onPartial, when set (Options.Strict), is called with each skip that
	// makes the run partial.
	onPartial func(flow.Skip)
}

// Source is what one input path (a tree, a file, a stream) gave.
type Source struct {
	Path    string // the path as given
	Files   int    // files (or streams) read
	Skipped int64  // items passed over under it: files, tails, rows (as ByReason counts them)
	Flows   uint64 // flows delivered
	// First and Last are the earliest and the latest End of its flows
	// (ms since the epoch; 0 when it gave none).
	First, Last int64
	// Formats names the formats read under it (Format.Name), sorted, each
	// once: the report's follow-up commands are those of the tools that
	// read these files.
	Formats []string
}

func (s *Source) addFormat(name string) {
	i, found := slices.BinarySearch(s.Formats, name)
	if !found {
		s.Formats = slices.Insert(s.Formats, i, name)
	}
}

func (s *Summary) add(k ...flow.Skip) {
	s.Skips = append(s.Skips, k...)
	if s.onPartial != nil {
		for _, sk := range k {
			if !ignorable(sk.Reason) {
				s.onPartial(sk)
				return
			}
		}
	}
}

// StrictError is what Run returns under Options.Strict when the input is
// not read whole: Skip is the first item passed over.
type StrictError struct{ Skip flow.Skip }

func (e *StrictError) Error() string { return "--strict: stopped at " + SkipString(e.Skip) }

// Partial reports whether anything was passed over: a whole file, a tail or
// a row. Files outside the --from/--to window, dot files and the tmp- files
// of a capture in progress were never meant to be read and do not count
// (they are still listed).
func (s *Summary) Partial() bool {
	for _, k := range s.Skips {
		if !ignorable(k.Reason) {
			return true
		}
	}
	return false
}

func ignorable(reason string) bool {
	switch reason {
	case "outside-window", "hidden", "out-of-order", "beyond-delay", "partial-file", "not-followed", "not-a-file", "duplicate",
		"sampled": // a note on flows that were read (nfdump files)
		return true
	}
	return false
}

// Sorted returns the skips in a stable order: by path, offset, line, reason.
func (s *Summary) Sorted() []flow.Skip {
	out := slices.Clone(s.Skips)
	slices.SortStableFunc(out, func(a, b flow.Skip) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Offset, b.Offset),
			cmp.Compare(a.Line, b.Line), cmp.Compare(a.Reason, b.Reason), cmp.Compare(a.Detail, b.Detail))
	})
	return out
}

// ByReason counts skipped items (rows, tails, files) per reason, sorted by reason.
func (s *Summary) ByReason() []ReasonCount {
	m := map[string]int64{}
	for _, k := range s.Skips {
		m[k.Reason] += max(k.Count, 1)
	}
	out := make([]ReasonCount, 0, len(m))
	for r, n := range m {
		out = append(out, ReasonCount{r, n})
	}
	slices.SortFunc(out, func(a, b ReasonCount) int { return cmp.Compare(a.Reason, b.Reason) })
	return out
}

// ReasonCount is one line of ByReason.
type ReasonCount struct {
	Reason string
	Count  int64
}

// maxSkipLines caps the lines shown per reason, so a garbage CSV cannot
// flood a cron mail nor hide a truncated file among its rows; the counts
// stay exact.
const maxSkipLines = 20

// WriteText prints the run summary for people: the counts; with more than
// one input path, one line per path (see sourceLines); then per reason
// (sorted) its total and up to maxSkipLines problems sorted by path and
// position, then "... and N more".
func (s *Summary) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "inputs: %d seen, %d read; flows: %d\n", s.FilesSeen, s.FilesRead, s.Flows)
	if len(s.Sources) > 1 {
		for _, l := range s.sourceLines() {
			fmt.Fprintf(bw, "  %s\n", l)
		}
	}
	sorted := s.Sorted()
	for _, rc := range s.ByReason() {
		fmt.Fprintf(bw, "skipped: %s: %d\n", rc.Reason, rc.Count)
		shown, more := 0, 0
		for _, k := range sorted {
			if k.Reason != rc.Reason {
				continue
			}
			if shown == maxSkipLines {
				more++
				continue
			}
			shown++
			fmt.Fprintf(bw, "  %s\n", SkipString(k))
		}
		if more > 0 {
			fmt.Fprintf(bw, "  ... and %d more\n", more)
		}
	}
	return bw.Flush()
}

// sourceLines renders each input path's figures, in command-line order:
//
//	/flows/rtr-b: 96 files, 1,234,567 flows, 2026-11-20 00:00:01 to 03:10:07 UTC, 2 skipped; stopped 2 h 50 min before the others
//	/flows/rtr-c: 3 files, no flows, 3 skipped
//
// The times are the earliest and the latest flow end, in UTC to the second
// (the date of the latest only when it is another day); "N skipped" only
// when something under the path was passed over; the note is
// sourcelag's rule over the span of every path's flows.
func (s *Summary) sourceLines() []string {
	last := make([]int64, len(s.Sources))
	var lo, hi int64
	for i, src := range s.Sources {
		if src.Flows == 0 {
			continue
		}
		last[i] = src.Last
		if lo == 0 || src.First < lo {
			lo = src.First
		}
		hi = max(hi, src.Last)
	}
	window := time.Duration(hi-lo) * time.Millisecond
	behind := sourcelag.Behind(last)
	out := make([]string, len(s.Sources))
	for i, src := range s.Sources {
		var b strings.Builder
		fmt.Fprintf(&b, "%s: %s", names.Quote(src.Path), plural(uint64(src.Files), "file"))
		if src.Flows == 0 {
			b.WriteString(", no flows")
		} else {
			first, last := time.UnixMilli(src.First).UTC(), time.UnixMilli(src.Last).UTC()
			to := last.Format("15:04:05")
			if last.Format(time.DateOnly) != first.Format(time.DateOnly) {
				to = last.Format(time.DateTime)
			}
			fmt.Fprintf(&b, ", %s, %s to %s UTC", plural(src.Flows, "flow"), first.Format(time.DateTime), to)
		}
		if src.Skipped > 0 {
			fmt.Fprintf(&b, ", %s skipped", grouped(uint64(src.Skipped)))
		}
		if note := sourcelag.Note(behind[i], window); note != "" {
			b.WriteString("; " + note)
		}
		out[i] = b.String()
	}
	return out
}

// plural prints "1 file", "2 files", "1,234,567 flows".
func plural(n uint64, word string) string {
	if n != 1 {
		word += "s"
	}
	return grouped(n) + " " + word
}

// grouped prints n with a comma between groups of three digits.
func grouped(n uint64) string {
	s := strconv.FormatUint(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// SkipString renders one skip as "path: offset N: reason: detail".
func SkipString(k flow.Skip) string {
	// A name or a detail with a newline or control bytes must not forge
	// a line of the summary: such text is printed quoted.
	where := names.Quote(k.Path)
	switch {
	case k.Line > 0:
		where += fmt.Sprintf(": line %d", k.Line)
	case k.Offset >= 0:
		where += fmt.Sprintf(": offset %d", k.Offset)
	}
	if k.Count > 1 {
		where += fmt.Sprintf(" (%d items)", k.Count)
	}
	return fmt.Sprintf("%s: %s: %s", where, k.Reason, names.Quote(k.Detail))
}

// source is the figures of input path arg (an index into Sources).
func (s *Summary) source(arg int) *Source {
	if arg < 0 || arg >= len(s.Sources) {
		// Inputs made without Run's paths (tests of the merge alone).
		for len(s.Sources) <= max(arg, 0) {
			s.Sources = append(s.Sources, Source{})
		}
	}
	return &s.Sources[max(arg, 0)]
}

// count adds n flows ending between first and last.
func (src *Source) count(first, last int64, n int) {
	if src.Flows == 0 || first < src.First {
		src.First = first
	}
	src.Last = max(src.Last, last)
	src.Flows += uint64(n)
}

// attribute counts each skip under the input path it belongs to: the path
// itself, or the tree it was found in.
func (s *Summary) attribute() {
	for i := range s.Sources {
		s.Sources[i].Skipped = 0
	}
	for _, k := range s.Skips {
		best := -1
		for i, src := range s.Sources {
			p := src.Path
			if k.Path == p || (strings.HasPrefix(k.Path, p) && (strings.HasSuffix(p, "/") || k.Path[len(p)] == '/')) {
				if best < 0 || len(p) > len(s.Sources[best].Path) {
					best = i
				}
			}
		}
		if best >= 0 {
			s.Sources[best].Skipped += max(k.Count, 1)
		}
	}
}
