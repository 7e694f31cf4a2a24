package vscan

import (
	"maps"
	"slices"
)

// aging lists the IPv4 pairs by the time of their latest contact, so
// that a sweep reads the pairs it may forget instead of every slot of the
// table. A sweep every eighth of the horizon read the whole table, a
// few megabytes out of the caches each time, and forgot an eighth of it:
// on three days of a million flows that was two fifths of the detector's
// time. A pair is listed under the bucket of its latest contact's start
// when it gets its first service and again whenever that start moves to a
// later bucket; an entry whose pair moved on, or was forgotten (by a
// press), is dropped when its bucket comes due. What a sweep forgets does
// not change: every pair whose latest contact is older than the cut is
// listed in a bucket at or before the cut's.
type aging struct {
	width int64 // of a bucket, ms
	// lists holds the keys in the IPv4 table by bucket. A sweep reads
	// every bucket at or before the cut's, so a pair listed in a bucket
	// already swept (a flow of hours, whose start is far behind the
	// stream) is read by the next.
	lists map[int64][]uint64
	// hot is the bucket most contacts are listed in, the stream's latest,
	// its list held here and not in lists (one map access a sweep, not a
	// contact); spare are lists swept, for new buckets to reuse.
	hot     int64
	hotList []uint64
	hasHot  bool
	spare   [][]uint64
	n       int // entries listed
	slack   int // entries beyond twice the pairs before bounded rebuilds (tests lower it)
	// rebuilds counts bounded's rebuilds, for the tests.
	rebuilds int
}

func newAging(horizonMS int64) aging {
	return aging{width: max(horizonMS/32, 1), lists: map[int64][]uint64{}, slack: 4096}
}

// bucket is the bucket of a start, ms. All the sweep needs is that a
// later start is never in an earlier bucket (so that a pair older than
// the cut is listed at or before the cut's bucket), which division
// toward zero gives before 1970 too.
func (a *aging) bucket(ms int64) int64 { return ms / a.width }

// note lists key k, whose latest contact started at last; was is the
// pair's previous latest start, and fresh says it had none.
func (a *aging) note(k uint64, last, was int64, fresh bool) {
	b := a.bucket(last)
	if !fresh && b == a.bucket(was) {
		return // listed there already
	}
	if !a.hasHot || b != a.hot {
		a.cool()
		a.hot, a.hotList, a.hasHot = b, a.lists[b], true
		delete(a.lists, b)
		if a.hotList == nil {
			a.hotList = a.reuse()
		}
	}
	a.hotList = append(a.hotList, k)
	a.n++
}

// cool puts the hot bucket's list back in lists: the sweep and the
// rebuild read only those.
func (a *aging) cool() {
	if a.hasHot && len(a.hotList) > 0 {
		a.lists[a.hot] = a.hotList
	}
	a.hotList, a.hasHot = nil, false
}

// spares bounds the lists kept for reuse: a few buckets' worth.
const spares = 4

// reuse returns an empty list, a spare one if any.
func (a *aging) reuse() []uint64 {
	if n := len(a.spare); n > 0 {
		l := a.spare[n-1]
		a.spare = a.spare[:n-1]
		return l
	}
	return nil
}

// recycle keeps l, read, for reuse.
func (a *aging) recycle(l []uint64) {
	if len(a.spare) < spares && cap(l) > 0 {
		a.spare = append(a.spare, l[:0])
	}
}

// bounded lists each pair of t's IPv4 table once, afresh, when the lists
// hold more than twice as many entries: entries of pairs a press forgot
// or that moved on to later buckets stay until their bucket comes due, a
// horizon later, and a table pressed every few minutes by background
// radiation would list ten times its pairs. The rebuild reads the table
// once per as many entries added, and what is listed stays one entry a
// pair or two (PairBytes counts 8 bytes a pair for it).
func (a *aging) bounded(t *pairTable) {
	if a.n <= 2*t.v4.Len()+a.slack {
		return
	}
	a.cool()
	for _, l := range a.lists {
		a.recycle(l)
	}
	clear(a.lists)
	a.n = 0
	a.rebuilds++
	for k, p := range t.v4.All() {
		a.note(k, p.last, 0, true)
	}
}

// sweep forgets the pairs of t's IPv4 table whose latest contact started
// before cut and that wait for no reply (t.drop), reading only the
// buckets at or before the cut's.
func (a *aging) sweep(t *pairTable, cut int64) {
	bc := a.bucket(cut)
	a.cool()
	var due []int64
	for b := range maps.Keys(a.lists) {
		if b <= bc {
			due = append(due, b)
		}
	}
	slices.Sort(due) // the table's layout, not what it forgets, follows the order
	kept := a.reuse()
	for _, b := range due {
		list := a.lists[b]
		delete(a.lists, b)
		a.n -= len(list)
		for i, k := range list {
			if j := i + lookAhead; j < len(list) {
				t.v4.Prefetch(list[j])
			}
			p, ok := t.v4.Get(k)
			switch {
			case !ok:
				// Forgotten by a press since it was listed.
			case p.last >= cut:
				if a.bucket(p.last) <= bc {
					kept = append(kept, k) // in the cut's bucket, after the cut: due later
				} // else listed again in the later bucket its latest contact moved to
			case t.drop(p):
				t.v4.Delete(k)
			default:
				kept = append(kept, k) // a reply still awaited: read it again next sweep
			}
		}
		a.recycle(list)
	}
	if len(kept) > 0 {
		a.lists[bc] = kept
		a.n += len(kept)
	} else {
		a.recycle(kept)
	}
}
