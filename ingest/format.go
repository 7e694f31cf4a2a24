// Package ingest turns archived flow files (flow-tools trees and files,
// flow-export and nfdump CSV, Parquet) into one stream of flow records in a
// deterministic time order. Each on-disk format is a small driver in its own
// sub-package behind the Format interface; this package walks trees, decodes
// files in parallel and merges them.
package ingest

import (
	"io"

	"github.com/flowsift/flowsift/flow"
)

// Format is one on-disk format. Drivers live in sub-packages and do not
// import this package; they only need to have this method set.
type Format interface {
	// Name is a short stable name ("flow-tools", "flow-export-csv", ...).
	Name() string
	// Sniff reports whether an input whose first bytes are head (up to 512
	// bytes, fewer for a short input) and whose path is path is of this
	// format.
	Sniff(head []byte, path string) bool
	// Decode streams every record of one input to emit, in input order, in
	// batches. A problem with part of the input (a bad row, a truncated
	// tail) goes to skip and decoding goes on where that is safe; the
	// returned error means the input could not be read at all (wrong magic,
	// empty file, unsupported version) and names path. An error returned by
	// emit stops decoding and is returned as is. emit must not keep the
	// batch after it returns: drivers reuse it.
	Decode(path string, r io.Reader, emit func(flow.Batch) error, skip func(flow.Skip)) error
}
