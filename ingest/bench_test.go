package ingest

import (
	"context"
	"testing"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/internal/benchfix"
)

func benchRun(b *testing.B, jobs int) {
	tree := benchfix.Tree1M(b)
	b.ResetTimer()
	cpu0 := benchfix.CPUTime()
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
	// CPU time is what a busy machine does not distort: flows per CPU
	// second shows the cost of the work apart from how many cores it got.
	b.ReportMetric(float64(flows)/(benchfix.CPUTime()-cpu0).Seconds(), "flows/cpu-s")
}

// Decode + ordered merge of the whole tree.
func BenchmarkRunJ1(b *testing.B) { benchRun(b, 1) }
func BenchmarkRunJ2(b *testing.B) { benchRun(b, 2) }
