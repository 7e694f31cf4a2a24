package pass

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

// A budget below the live heap would keep the collector running back to
// back: holdHeap lifts the limit above what is live, and restores the
// previous limit and GOGC when the pass ends; during the pass the limit
// alone starts a collection.
func TestHoldHeapLiftsAndRestores(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	prevGC := debug.SetGCPercent(-1)
	debug.SetGCPercent(prevGC)
	keep := make([]byte, 32<<20)
	for i := range keep {
		keep[i] = byte(i)
	}
	stop := holdHeap(1 << 20)
	if gc := debug.SetGCPercent(-1); gc != -1 {
		t.Errorf("GOGC %d during the pass, want off", gc)
	}
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
	if gc := debug.SetGCPercent(prevGC); gc != prevGC {
		t.Fatalf("GOGC %d after the pass, want %d back", gc, prevGC)
	}
	runtime.KeepAlive(keep)
}

// The limit is half the budget while little is live, then follows the
// live heap an eighth and a headroom above it, so a pass holding 480 MB
// under a 1 GiB budget is collected at 556 MB, not at the budget; past
// half the budget a quarter and twice the headroom above it; it never
// passes the budget until the live heap nears it.
func TestHeapLimitFollowsLiveHeap(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct{ live, budget, want int64 }{
		{0, 1024 * mib, 512 * mib},
		{200 * mib, 1024 * mib, 512 * mib},
		{400 * mib, 1024 * mib, 512 * mib},
		{480 * mib, 1024 * mib, 540*mib + headroom},
		{600 * mib, 1024 * mib, 750*mib + 4*headroom},
		{800 * mib, 1024 * mib, 1024 * mib},
		{900 * mib, 1024 * mib, 1024 * mib},
		{1000 * mib, 1024 * mib, 1250 * mib},
		{10 * mib, 32 * mib, 10*mib + 10*mib/8 + headroom},
	} {
		if got := heapLimit(c.live, c.budget); got != c.want {
			t.Errorf("live %d MiB, budget %d MiB: limit %d MiB, want %d", c.live/mib, c.budget/mib, got/mib, c.want/mib)
		}
	}
}

// Under a held heap, pretouch leaves its pages in the heap, faulted in and
// free, for the pass to take: they are neither live nor given back to the
// system.
func TestPretouchLeavesFreeHeap(t *testing.T) {
	stop := holdHeap(1 << 30)
	defer stop()
	free := func() uint64 {
		s := []metrics.Sample{{Name: "/memory/classes/heap/free:bytes"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	before := free()
	pretouch(64<<20, 64<<20, HugePagesAuto)
	if got := free(); got < before+48<<20 {
		t.Fatalf("free heap %d MiB after touching 64 MiB (%d before)", got>>20, before>>20)
	}
}

// The heap touched first is sixteen times the input, at most a quarter
// of the budget and 1 GiB; the heap that may ask for huge pages is
// sixteen times the input while that is at most half the budget.
func TestWarmBytes(t *testing.T) {
	for _, c := range []struct{ budget, input, warm, huge int64 }{
		{64 << 30, 1 << 40, 1 << 30, 1 << 30},
		{1 << 30, 8 << 20, 128 << 20, 128 << 20},
		{1 << 30, 24 << 20, 256 << 20, 384 << 20},
		{1 << 30, 32 << 20, 256 << 20, 512 << 20},
		{1 << 30, 33 << 20, 256 << 20, 256 << 20},
		{1 << 30, 1 << 30, 256 << 20, 256 << 20},
		{0, 1 << 30, 0, 0},
		{1 << 30, 0, 0, 0},
	} {
		if got := warmBytes(c.budget, c.input); got != c.warm {
			t.Errorf("warmBytes(%d, %d) = %d, want %d", c.budget, c.input, got, c.warm)
		}
		if got := hugeBytes(c.budget, c.input); got != c.huge {
			t.Errorf("hugeBytes(%d, %d) = %d, want %d", c.budget, c.input, got, c.huge)
		}
	}
}
