// Package benchfix holds what the whole-tree benchmarks share: the
// generated 1,000,000-flow tree their figures are measured on, and the
// process's CPU time.
package benchfix

import (
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/samples"
)

// Tree1M is a generated compressed flow-capture tree of 1,000,000 flows
// (one day, seed 1), made once per machine under the temporary directory.
func Tree1M(b testing.TB) string {
	b.Helper()
	tree, err := samples.CachedTree(filepath.Join(os.TempDir(), "flowsift-bench-1m"), samples.Config{Seed: 1, Flows: 1_000_000, Hours: 24})
	if err != nil {
		b.Fatal(err)
	}
	return tree
}

var (
	flowsOnce  sync.Once
	flows1M    []flow.Record
	truth1M    *samples.Truth
	flows1MErr error
)

// Flows1M is the same million flows as Tree1M, generated in memory (once
// per process): for benchmarks that measure a consumer, not decoding.
func Flows1M(b testing.TB) ([]flow.Record, *samples.Truth) {
	b.Helper()
	flowsOnce.Do(func() {
		flows1M, truth1M, flows1MErr = samples.Generate(samples.Config{Seed: 1, Flows: 1_000_000, Hours: 24})
	})
	if flows1MErr != nil {
		b.Fatal(flows1MErr)
	}
	return flows1M, truth1M
}

// CPUTime is the process's user plus system CPU time so far. On a shared
// machine the wall time of a run swings with the neighbours' load; the CPU
// time it needs swings far less, and with every core busy it is what the
// wall time follows.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
