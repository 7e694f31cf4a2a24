package pass

import (
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/flowsift/flowsift/analyze/roles"
	"github.com/flowsift/flowsift/analyze/vscan"
)

// DefaultMemory is --memory's default: a share of a small server that
// leaves room for the system and for decoding, which lives outside the
// budget (see Configuration.Memory).
const DefaultMemory = 1 << 30

// talkersShare is the part of the budget the top talkers' pair table may
// hold before it spills to disk: the one structure that grows with the
// distinct pairs of the whole archive, where the detectors' state ages out
// (see the detectors' horizons). The shares of the talkers, TRW, vscan and
// the roles add up to about 30 % of the budget: the accountant, the
// engine, the heuristics and the chunks in flight take the rest. With
// shares twice the ninth session's, a day of background radiation had
// 1.2 GB live under a 1 GiB budget (2.4 GB of RSS). Spilling costs little
// once the table spills only when full again (talkers' spillPairs): on
// the week's archive (50M flows) an eighth, a sixteenth and a 32nd took
// the same CPU time within the machine's noise, and at a 32nd the table
// spilled 38 times (634 MiB written to temporary files). A 48th since the
// roles' share grew (below): with a 32nd and TRW's tenth the background
// day's RSS reached 1,088,660 KB in one run of five.
const talkersShare = 48

// trwShare is TRW's part: its pairs and sources age out after a day, and
// when a day's worth outgrows this, those silent longest wait in temporary
// files (trw.Config.MaxBytes), its outcome unchanged. A twelfth and not
// an eighth, as when TRW forgot instead, leaves room for the roles' table.
const trwShare = 12

// vscanShare and rolesShare are the vertical-scan detector's and the host
// roles' parts: each bounds its table by a count (vscan.Config.MaxPairs,
// roles.Config.MaxHosts), made from the share and the bytes an entry was
// measured to take, never above the package's default: a budget does
// not make a table follow more than a run without one. On a day of
// background radiation (16M flows, 5.3M sources) their default counts
// held 363 and 156 MB at the report's peak. A smaller table forgets
// sooner (vscan's horizon came down to 22 min there, logged), never
// silently. The roles' seventh holds their default 2^18 hosts under the
// default 1 GiB: their table presses (forgets hosts with few peers) when
// full, and with fewer hosts than a run without a budget the press came
// sooner and 19 hosts' roles differed on that day; with as many the
// roles are the same. RSS there went from 0.81 to 0.94-0.95 GiB.
const (
	vscanShare = 16
	rolesShare = 7
)

// budgeted bounds the analysers' tables by their shares of the budget. A
// bound set in the configuration (by the policy, or a caller of the
// package) stands: TRW's bytes, vscan's pairs, the roles' hosts; one left
// at its package default is replaced by the share.
func budgeted(cfg Configuration) Configuration {
	if cfg.Memory <= 0 {
		return cfg
	}
	cfg.Talkers.MaxBytes = max(1, cfg.Memory/talkersShare)
	if cfg.TRW.MaxBytes == 0 {
		cfg.TRW.MaxBytes = max(1, cfg.Memory/trwShare)
	}
	cfg.TRW.TempDir = cfg.TempDir
	if p, d := cfg.VScan.MaxPairs, vscan.DefaultConfig().MaxPairs; p <= 0 || p == d {
		cfg.VScan.MaxPairs = int(min(int64(d), max(1, cfg.Memory/vscanShare/vscan.PairBytes)))
	}
	if h, d := cfg.Roles.MaxHosts, roles.DefaultConfig().MaxHosts; h <= 0 || h == d {
		cfg.Roles.MaxHosts = int(min(int64(d), max(1, cfg.Memory/rolesShare/roles.HostBytes)))
	}
	return cfg
}

// ParseSize reads a --memory value: a number of bytes, or one with a
// suffix K, M, G or T (powers of 1024, with or without "iB" or "B", any
// case): "1GiB", "512M", "1073741824". "0" means no budget.
func ParseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mul := int64(1)
	if n := len(t); n > 0 {
		if i := strings.IndexByte("KMGT", t[n-1]); i >= 0 {
			mul = 1 << (10 * (i + 1))
			t = t[:n-1]
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
	if err != nil || v < 0 || v*float64(mul) >= 1<<62 || t == "" {
		return 0, fmt.Errorf("memory %q: want a size such as 1GiB, 512M or a number of bytes", s)
	}
	return int64(v * float64(mul)), nil
}

// FormatSize renders a size as ParseSize reads it, in the largest unit
// that divides it.
func FormatSize(n int64) string {
	for i, u := range []string{"TiB", "GiB", "MiB", "KiB"} {
		if m := int64(1) << (10 * (4 - i)); n >= m && n%m == 0 {
			return strconv.FormatInt(n/m, 10) + u
		}
	}
	return strconv.FormatInt(n, 10)
}

// holdHeap makes the memory limit (debug.SetMemoryLimit) the only trigger
// of the collector for the pass, GOGC off, and sets it from the budget
// and what the pass holds (heapLimit). With the default GOGC the heap may
// grow to twice what is live before a collection, so a week's archive
// holding about 750 MB took 1.4 GB of RSS under a 1 GiB budget (1.05 GB
// with a limit). And while little is live, GOGC collected every time the
// small heap doubled: on the 3-day diverse tree (1.01 M flows) 11
// collections in all, where with the limit alone there are 5, and the
// report took 3.40-3.80 CPU s instead of 3.72-3.92 (444 MB of RSS instead
// of 280-287: a smaller --memory trades the CPU back). The live heap is
// watched (as of the last collection). A limit below what is live makes
// the collector run back to back for nothing, so when the live heap
// passes nine tenths of the budget the limit follows it above the budget
// and a warning says the budget was exceeded. stop restores the previous
// limit and GOGC.
func holdHeap(budget int64) (stop func()) {
	heapHeld.Store(true)
	prevGC := debug.SetGCPercent(-1)
	prev := debug.SetMemoryLimit(heapLimit(0, budget))
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		warned := false
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			metrics.Read(sample)
			if sample[0].Value.Kind() != metrics.KindUint64 {
				return
			}
			live := int64(sample[0].Value.Uint64())
			if live > budget/10*9 && !warned {
				warned = true
				slog.Warn("the pass holds more than --memory allows; the heap may grow past it",
					"memory", FormatSize(budget), "live heap", FormatSize(live>>20<<20))
			}
			debug.SetMemoryLimit(heapLimit(live, budget))
		}
	}()
	return func() {
		close(done)
		<-finished
		debug.SetMemoryLimit(prev)
		debug.SetGCPercent(prevGC)
		heapHeld.Store(false)
	}
}

// headroom is what the heap may grow by beyond an eighth above the live
// heap before the collector runs: at a small live heap a collection every
// few megabytes would cost more than it frees.
const headroom = 16 << 20

// heapLimit is the memory limit for a live heap: half the budget while
// that is more; else, while the live heap is under half the budget, an
// eighth above it plus headroom; past half the budget, a quarter above
// it plus four times the headroom, at most the budget; past nine tenths
// of the budget, a quarter above the live heap whatever the budget (see
// holdHeap). The eighth is what brings the week's archive (50M flows,
// about 487 MB live at its peak) within 600 MB of RSS: 577,264 KB for
// 146 CPU s (with 32 MiB of headroom 591,036 KB; a quarter and 64 MiB
// took 681 MB in the memory helper's runs). A heap past half the budget
// is one the budget governs, and there the eighth's collections cost
// most: a day of background radiation (5.3 M sources; 848 MB of RSS with
// the quarter) took 212 CPU s with the eighth, 134 with a quarter.
func heapLimit(live, budget int64) int64 {
	if live > budget/10*9 {
		return live / 4 * 5
	}
	margin := live/8 + headroom
	if live > budget/2 {
		margin = live/4 + 4*headroom
	}
	return min(budget, live+max(margin, budget/2-live))
}

// warmBytes is how much heap pretouch faults in before a pass over input
// bytes of files under a budget: sixteen times the input (compressed
// flow-tools files of a million flows, 24 MB, take about 400 MB of heap),
// at most a quarter of the budget. Faulting in more than the pass will use
// would cost time and memory for nothing. On that tree, under 1 GiB, the
// quarter (256 MiB) took 2.44-2.66 CPU s against 2.51-2.71 with eight times
// the input (192 MB), six pairs, the same RSS. At most 1 GiB: a huge
// budget should not make the start wait for millions of faults the pass
// may never need (nor ask a 32-bit build for more than it can allocate).
func warmBytes(budget, input int64) int64 {
	return min(budget/4, 16*input, 1<<30)
}

// hugeBytes is how much heap asks for huge pages where faults are slow
// (nothing of it is faulted in first): sixteen times the input while that
// is at most half the budget, else warmBytes. What the pass grows beyond
// it faults in 4 KiB at a time: on the 3-day tree (about 410 MB of RSS)
// sixteen times the input (384 MiB) took 2.33-2.53 CPU s against
// 2.63-3.01 with the quarter, four rounds, the same RSS. A pass larger
// than half the budget (a week, a day of background radiation) keeps the
// quarter: the collector reuses its heap, and with half the budget the
// background day took 1,014,536 KB and 154.8 CPU s against 981,992 KB
// and 126.8 (one run each).
func hugeBytes(budget, input int64) int64 {
	if n := 16 * input; n <= budget/2 {
		return min(n, 1<<30)
	}
	return warmBytes(budget, input)
}

// pretouch faults in n bytes of heap from the calling goroutine, before
// the analysers run, and hands them back to the heap for the pass to use.
// Faulting its memory in as it grows, the pass on two cores took twice
// the system time of one core for as many faults, and more user time too
// (likely the faults of two threads contending, in the kernel and, on a
// virtual machine, in the host): on the 3-day, 1M-flow tree `report -j 2`
// took 3.05-3.96 CPU s (median 3.31), and with the heap touched first
// 2.52-3.22 (2.90), eight pairs in alternating order, RSS unchanged (about
// 406 MB). The Java virtual machine's AlwaysPreTouch does the same for its
// heap. Under holdHeap the collector leaves the pages mapped: they stay
// below the memory limit, and GOGC is off. Huge pages: see slowFault and
// touchBlock.
func pretouch(warm, huge int64, mode HugePages) {
	if warm < 1<<20 {
		return
	}
	touch(warm, huge, mode)
	runtime.GC()
}

// touch faults in warm bytes of heap, or asks for huge pages for max(warm,
// huge) bytes.
func touch(warm, huge int64, mode HugePages) {
	b := make([]byte, max(warm, huge))
	touchBlock(b, mode, int(warm))
	runtime.KeepAlive(b)
}

// faultClock is threadCPU; the tests make faults look slow or fast.
var faultClock = threadCPU

// touchBlock faults in the first warm bytes of b, or asks for huge pages
// for all of it. Under
// HugePagesAuto the first hugeProbe bytes are faulted in ordinary pages on
// the thread's CPU clock, which time spent waiting for a core does not
// inflate, and the rest asks for huge pages if those faults were slow.
// Memory that asked for them is left for the pass to fault in: with 512
// times fewer faults the pass's threads no longer contend for them, and
// what the pass never uses is never faulted in. On the sample day
// (tree1m) that took the report from 298 to 224 MB of RSS, its CPU time
// the same (1.86-1.97 against 1.88-2.04 CPU s, six pairs in alternating
// order; on the 3-day tree 2.59-3.19 against 2.63-2.85, 360 MB both).
func touchBlock(b []byte, huge HugePages, warm int) (asked bool) {
	page := os.Getpagesize()
	done := 0
	var fault time.Duration // a fault's cost in the probe
	switch huge {
	case HugePagesOn:
		asked = adviseHuge(b)
	case HugePagesAuto:
		done = min(len(b), hugeProbe)
		runtime.LockOSThread()
		t0, ok0 := faultClock()
		faultIn(b[:done], page)
		t1, ok1 := faultClock()
		runtime.UnlockOSThread()
		cost := time.Duration(t1 - t0)
		fault = cost / time.Duration(max(done/page, 1))
		if ok0 && ok1 && slowFaults(cost, done/page) {
			asked = adviseHuge(b[done:])
		}
	}
	if !asked && done < warm {
		faultIn(b[done:min(warm, len(b))], page)
	}
	slog.Debug("heap set aside for the pass", "bytes", len(b), "huge-pages", huge, "fault", fault, "huge pages asked for", asked)
	return asked
}

func faultIn(b []byte, page int) {
	for i := 0; i < len(b); i += page {
		b[i] = 1
	}
}

// heapHeld is set while holdHeap holds the process's heap (RunReport
// holds it across Run and Result; Run alone holds it for itself).
var heapHeld atomic.Bool
