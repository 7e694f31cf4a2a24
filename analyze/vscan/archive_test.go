package vscan

import (
	"context"
	"os"
	"slices"
	"testing"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/ingest"
)

// archive reads the tree named by FLOWSIFT_BENCH_TREE into memory, once,
// in stream order; unset, the benchmark skips (the generated stream of
// BenchmarkStream needs no files).
func archive(b *testing.B) []flow.Record {
	dir := os.Getenv("FLOWSIFT_BENCH_TREE")
	if dir == "" {
		b.Skip("FLOWSIFT_BENCH_TREE names no flow tree to replay")
	}
	streamsMu.Lock()
	defer streamsMu.Unlock()
	if archived != nil {
		return archived
	}
	var recs []flow.Record
	if _, err := ingest.Run(context.Background(), []string{dir}, ingest.Options{}, func(batch flow.Batch) error {
		recs = append(recs, slices.Clone(batch)...)
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	archived = recs
	return recs
}

var archived []flow.Record
