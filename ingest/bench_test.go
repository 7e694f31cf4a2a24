package ingest

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

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
	cpu0 := cpuTime()
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
	b.ReportMetric(float64(flows)/(cpuTime()-cpu0).Seconds(), "flows/cpu-s")
}

// cpuTime is the process's user + system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Decode + ordered merge of the whole tree.
func BenchmarkRunJ1(b *testing.B) { benchRun(b, 1) }
func BenchmarkRunJ2(b *testing.B) { benchRun(b, 2) }
