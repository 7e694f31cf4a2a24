package pass

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// A budget below the live heap would keep the collector running back to
// back: holdHeap lifts the limit above what is live, and restores the
// previous limit when the pass ends.
func TestHoldHeapLiftsAndRestores(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	keep := make([]byte, 32<<20)
	for i := range keep {
		keep[i] = byte(i)
	}
	stop := holdHeap(1 << 20)
	runtime.GC()
	deadline := time.Now().Add(5 * time.Second)
	for debug.SetMemoryLimit(-1) <= 32<<20 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if lim := debug.SetMemoryLimit(-1); lim <= 32<<20 {
		t.Fatalf("limit %d with 32 MiB live: not lifted", lim)
	}
	stop()
	if lim := debug.SetMemoryLimit(-1); lim != prev {
		t.Fatalf("limit %d after the pass, want %d back", lim, prev)
	}
	runtime.KeepAlive(keep)
}
