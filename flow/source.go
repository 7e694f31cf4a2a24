package flow

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
