package ingest

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// routerArchive writes one flow-capture-like tree per router: 15-minute
// files over the same hours, so the routers' files interleave in time.
// Flows end up to the export delay before their file's start and before
// the next file's start; many end on the same millisecond, within a file
// and across routers; each file is a little out of order (within a few
// records). want is the brute-force stable sort of every flow by End, in
// argument order, then capture order, then record order.
func routerArchive(t *testing.T, routers, files int, seed uint64) (paths, want []string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	root := t.TempDir()
	base := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	type rec struct {
		end int64
		id  string
	}
	var all []rec
	id := 0
	for r := 0; r < routers; r++ {
		dir := filepath.Join(root, fmt.Sprintf("rtr-%02d", r))
		paths = append(paths, dir)
		for f := 0; f < files; f++ {
			start := base.Add(time.Duration(f) * 15 * time.Minute)
			name := fmt.Sprintf("%s/ft-v05.%s", start.Format("2006/2006-01/2006-01-02"), start.Format("2006-01-02.150405-0700"))
			var rows []string
			n := 1 + rng.IntN(40)
			t0 := start.UnixMilli()
			var ends []int64
			for i := 0; i < n; i++ {
				// From 5 minutes before the file's start (an exporter's
				// delay) to its end, on a coarse grid so that ends collide.
				ends = append(ends, t0-5*60_000+int64(rng.IntN(20*60))*1000)
			}
			slices.Sort(ends)
			// A little disorder: swap a few neighbours.
			for i := 0; i+1 < len(ends); i++ {
				if rng.IntN(4) == 0 {
					ends[i], ends[i+1] = ends[i+1], ends[i]
				}
			}
			for _, e := range ends {
				id++
				rows = append(rows, fmt.Sprintf("%d %d", e, id))
				all = append(all, rec{e, fmt.Sprintf("%d/%d", e, id)})
			}
			writeFake(t, dir, name, rows...)
		}
	}
	slices.SortStableFunc(all, func(a, b rec) int {
		switch {
		case a.end < b.end:
			return -1
		case a.end > b.end:
			return 1
		}
		return 0
	})
	for _, r := range all {
		want = append(want, r.id)
	}
	return paths, want
}

// TestRunRoutersMergeInTime: several routers' trees given as separate
// paths replay as one stable sort by end time (what flow-merge does with
// the same files), at every -j and every Lookahead, with nothing reported
// out of order and each router's figures in the summary.
func TestRunRoutersMergeInTime(t *testing.T) {
	withFake(t)
	for _, routers := range []int{2, 3, 10} {
		paths, want := routerArchive(t, routers, 8, uint64(routers))
		for _, j := range []int{1, 2, 3} {
			for _, look := range []int{1, 2, 4, 8} {
				got, sum := collect(t, paths, Options{Jobs: j, Lookahead: look, BatchSize: 7, Reorder: 4})
				if !slices.Equal(got, want) {
					i := 0
					for i < min(len(got), len(want)) && got[i] == want[i] {
						i++
					}
					t.Fatalf("%d routers, -j %d, lookahead %d: order differs from the stable sort at flow %d of %d (got %v, want %v)",
						routers, j, look, i, len(want), got[i:min(i+3, len(got))], want[i:min(i+3, len(want))])
				}
				if len(sum.Skips) != 0 {
					t.Fatalf("%d routers, -j %d, lookahead %d: skips %+v", routers, j, look, sum.Skips)
				}
				if len(sum.Sources) != routers {
					t.Fatalf("sources %+v", sum.Sources)
				}
				var flows uint64
				for _, s := range sum.Sources {
					if s.Files != 8 || s.Flows == 0 || s.First == 0 || s.Last < s.First {
						t.Fatalf("source figures %+v", s)
					}
					flows += s.Flows
				}
				if flows != uint64(len(want)) {
					t.Fatalf("sources count %d flows, want %d", flows, len(want))
				}
			}
		}
	}
}

// TestRunReorderWindow: a file out of order within the reorder window is
// merged exactly, across the chunks it is decoded in; a record displaced
// further is replayed late, counted, never lost.
func TestRunReorderWindow(t *testing.T) {
	withFake(t)
	dir := t.TempDir()
	const n = 3 * chunkSize
	rows := make([]string, 0, n+1)
	for i := 0; i < n; i++ {
		rows = append(rows, fmt.Sprintf("%d %d", 1000+i*10, i))
	}
	// Two swaps across the first chunk boundary, 3 positions apart.
	b := chunkSize
	rows[b-2], rows[b+1] = rows[b+1], rows[b-2]
	// One flow 3 chunks late: it comes out where the merge stands when its
	// chunk is reached, after the two chunks already released.
	rows = append(rows, "1005 99")
	writeFake(t, dir, "f", rows...)
	got, sum := collect(t, []string{dir}, Options{Jobs: 2, Reorder: 8})
	if len(got) != n+1 {
		t.Fatalf("lost flows: %d", len(got))
	}
	at := slices.Index(got, "1005/99")
	rest := slices.Delete(slices.Clone(got), at, at+1)
	if want := fmt.Sprintf("%d/%d", 1000+(b-2)*10, b-2); rest[b-2] != want || !slices.IsSortedFunc(rest, cmpIDs) {
		t.Errorf("the swap across chunks was not put right: %v", rest[b-3:b+2])
	}
	if at != 2*chunkSize {
		t.Errorf("the late flow came out at %d, want %d", at, 2*chunkSize)
	}
	var late int64
	for _, k := range sum.Skips {
		if k.Reason == "out-of-order" {
			late += k.Count
		}
	}
	if late != 1 || sum.Partial() {
		t.Fatalf("want one late flow counted, not partial: %+v", sum.Skips)
	}
	// With a window as large as the file, the late flow is in its place.
	got, _ = collect(t, []string{dir}, Options{Jobs: 1, Reorder: n + 1})
	if got[1] != "1005/99" {
		t.Fatalf("window of the whole file: %v", got[:3])
	}
}

// cmpIDs orders "END/ID" strings by END.
func cmpIDs(a, b string) int {
	var ea, eb, ia, ib int64
	fmt.Sscanf(a, "%d/%d", &ea, &ia)
	fmt.Sscanf(b, "%d/%d", &eb, &ib)
	switch {
	case ea < eb:
		return -1
	case ea > eb:
		return 1
	}
	return 0
}

// TestWindowsPartitionTheArchive: adjacent windows [c_k, c_k+1) select
// every flow exactly once at many cut points, over several routers whose
// flows end up to five minutes before their file's start (within the
// export delay): files are read by the flows they can hold, not only by
// their own period.
func TestWindowsPartitionTheArchive(t *testing.T) {
	withFake(t)
	paths, want := routerArchive(t, 3, 8, 11)
	base := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	for _, step := range []time.Duration{7 * time.Minute, 15 * time.Minute, 61 * time.Second} {
		seen := map[string]int{}
		for from := base.Add(-30 * time.Minute); from.Before(base.Add(3 * time.Hour)); from = from.Add(step) {
			to := from.Add(step)
			got, _ := collect(t, paths, Options{Jobs: 2, From: from, To: to})
			for _, g := range got {
				var end, id int64
				fmt.Sscanf(g, "%d/%d", &end, &id)
				if end >= from.UnixMilli() && end < to.UnixMilli() {
					seen[g]++
				}
			}
		}
		for _, w := range want {
			if seen[w] != 1 {
				t.Fatalf("windows of %v: flow %s selected %d times", step, w, seen[w])
			}
		}
		if len(seen) != len(want) {
			t.Fatalf("windows of %v: %d flows selected, archive holds %d", step, len(seen), len(want))
		}
	}
}
