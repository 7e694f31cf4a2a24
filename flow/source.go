package flow

import (
	"errors"
	"fmt"
	"io"
)

// Batch is a run of records from one input, in input order. Readers hand
// records out in batches so that the per-record cost of channels and calls
// stays off the hot path.
type Batch []Record

// Skip says why some input, or part of one, was not read. Every reader and
// the tree walker report what they passed over this way, so the run summary
// can count it and never lose it silently.
type Skip struct {
	Path   string // file the problem is in ("-" for standard input)
	Offset int64  // byte offset in the file, -1 when not meaningful
	Line   int64  // line number for text inputs, 0 when not meaningful
	Reason string // short, stable category: "truncated", "bad-row", "bad-magic", "empty", "partial-file", "v8-unsupported", "trailing-bytes", "out-of-order", ...
	Detail string // the human sentence
	Fatal  bool   // the whole file was skipped (as opposed to a row or a tail)
	Count  int64  // how many rows/records this covers (bad rows merged per file), at least 1
}

// BadRows merges consecutive bad rows of a text input into one Skip with a
// count, so a garbage file yields one summary line with an exact count
// instead of thousands. Call Add per bad row and Flush at the end (and
// before returning an error).
type BadRows struct {
	Path string
	Skip func(Skip)
	run  *Skip
}

// Add records that line could not be read, for the reason detail.
func (b *BadRows) Add(line int64, detail string) {
	if b.run != nil && b.run.Line+b.run.Count == line {
		b.run.Count++
		return
	}
	b.Flush()
	b.run = &Skip{Path: b.Path, Offset: -1, Line: line, Reason: "bad-row", Detail: detail, Count: 1}
}

// Flush reports the pending run of bad rows, if any.
func (b *BadRows) Flush() {
	if b.run != nil {
		b.Skip(*b.run)
		b.run = nil
	}
}

// BrokenTail is the skip of a text input whose stream failed while line
// was being read: a gzip file cut short ("truncated"), a damaged one or an
// I/O error ("corrupt"). Readers keep the rows before the break, as the
// flow-tools reader keeps the records before a cut, instead of dropping
// the whole file.
func BrokenTail(path string, line int64, err error) Skip {
	reason := "corrupt"
	if errors.Is(err, io.ErrUnexpectedEOF) {
		reason = "truncated"
	}
	return Skip{Path: path, Offset: -1, Line: line, Reason: reason, Count: 1,
		Detail: fmt.Sprintf("read failed (%v): the lines before this one were read, the rest of the file was not", err)}
}
