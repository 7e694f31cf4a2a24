// Package benchtree reads a real flow tree, named by the environment, into
// memory for benchmarks that replay it.
package benchtree

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/ingest"
)

var (
	mu       sync.Mutex
	archived []flow.Record
)

// Archive reads the tree FLOWSIFT_BENCH_TREE names into memory, once, in
// stream order; unset, the benchmark skips (a fresh clone has no such
// tree).
func Archive(b *testing.B) []flow.Record {
	b.Helper()
	dir := os.Getenv("FLOWSIFT_BENCH_TREE")
	if dir == "" {
		b.Skip("FLOWSIFT_BENCH_TREE names no flow tree to replay")
	}
	mu.Lock()
	defer mu.Unlock()
	if archived != nil {
		return archived
	}
	var recs []flow.Record
	if _, err := ingest.Run(context.Background(), []string{dir}, ingest.Options{}, func(batch flow.Batch) error {
		recs = append(recs, batch...)
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	archived = recs
	return recs
}
