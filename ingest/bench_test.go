package ingest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/samples"
)

// benchTree is a generated compressed capture tree of 1,000,000 flows
// (96 files), made once per machine under the temporary directory.
func benchTree(b *testing.B) string {
	tree, err := samples.CachedTree(filepath.Join(os.TempDir(), "flowsift-bench-1m"), samples.Config{Seed: 1, Flows: 1_000_000, Hours: 24})
	if err != nil {
		b.Fatal(err)
	}
	return tree
}

func benchRun(b *testing.B, jobs int) {
	tree := benchTree(b)
	b.ResetTimer()
	var flows uint64
	var bytes int64
	for i := 0; i < b.N; i++ {
		sum, err := Run(context.Background(), []string{tree}, Options{Jobs: jobs}, func(flow.Batch) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
		flows += sum.Flows
		bytes += sum.Bytes
	}
	b.ReportMetric(float64(flows)/b.Elapsed().Seconds(), "flows/s")
	b.ReportMetric(float64(bytes)/1e6/b.Elapsed().Seconds(), "MB/s")
}

// Decode + ordered merge of the whole tree.
func BenchmarkRunJ1(b *testing.B) { benchRun(b, 1) }
func BenchmarkRunJ2(b *testing.B) { benchRun(b, 2) }
