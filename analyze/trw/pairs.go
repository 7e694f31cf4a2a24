package trw

import (
	"net/netip"

	"github.com/flowsift/flowsift/analyze/internal/addrkey"
	"github.com/flowsift/flowsift/analyze/internal/u64map"
	"github.com/flowsift/flowsift/flow"
)

// dirs is the state of an unordered address pair, one entry per direction
// (0: from the lower address to the higher, 1: back): 0 when that direction
// never carried a flow, seenDone when it did and no contact of it is
// pending, and while its first contact waits in the queue, its position
// modulo posSpan, plus one (see pos). min is the stream time of the
// pair's last flow in minutes, for aging. Twelve bytes: with its key a
// slot takes 24, what the pair table took before it aged.
type dirs struct {
	d   [2]int32
	min uint32
}

const (
	seenDone = -1
	// posSpan bounds the queue positions a pair can name: pending
	// contacts lie within len(queue) of the queue's base, which
	// MaxPending keeps far below it (see Config.Validate).
	posSpan = 1 << 30
)

// pending says whether direction dir waits in the queue.
func (st *dirs) pending(dir int) bool { return st.d[dir] > 0 }

// setPos records that direction dir waits at absolute queue position p.
func (st *dirs) setPos(dir int, p int64) { st.d[dir] = int32(p&(posSpan-1)) + 1 }

// pos returns the absolute queue position of direction dir, which must
// be pending, given base, the absolute position of the queue's first
// entry.
func (st *dirs) pos(dir int, base int64) int64 {
	return base + (int64(st.d[dir]-1)-base)&(posSpan-1)
}

func minuteOf(ms int64) uint32 { return uint32(max(ms, 0) / 60_000) }

// pairTable holds every pair that carried a flow. Keyed by the unordered
// pair, one lookup answers both "is this a first contact" and "did the
// destination speak first", and a pair that talks both ways takes one
// entry. IPv4 pairs live in the table itself (a pointer to the state is
// returned, so a change costs no second lookup); the rest in a map.
type pairTable struct {
	v4 u64map.Map[dirs]
	v6 map[addrkey.Pair]*dirs
}

func newPairTable() pairTable { return pairTable{v6: map[addrkey.Pair]*dirs{}} }

// key4 returns the unordered key of an IPv4 pair (src, dst) and the
// direction src→dst; key6 the same for any other pair.
// A self pair is direction 0 both ways.
func key4(src, dst netip.Addr) (uint64, int) {
	a, b := uint64(flow.AddrU32(src)), uint64(flow.AddrU32(dst))
	if a <= b {
		return a<<32 | b, 0
	}
	return b<<32 | a, 1
}

func key6(src, dst netip.Addr) (addrkey.Pair, int) {
	a, b := addrkey.Of(src), addrkey.Of(dst)
	// 10.0.0.1 and ::ffff:10.0.0.1 share a 16-byte form: the IPv4 one
	// takes direction 0.
	if less(a, b) || (a == b && (src.Is4() || !dst.Is4())) {
		return addrkey.PairOf(a, b), 0
	}
	return addrkey.PairOf(b, a), 1
}

func less(a, b addrkey.Addr) bool { return a[0] < b[0] || (a[0] == b[0] && a[1] < b[1]) }

// upsert returns the state of (src, dst), adding the pair if new (added
// says so), and the direction of src→dst in it, and stamps it with the
// stream time now. The pointer is valid until the next upsert or forget.
func (t *pairTable) upsert(src, dst netip.Addr, now int64) (st *dirs, dir int, added bool) {
	if src.Is4() && dst.Is4() {
		var k uint64
		k, dir = key4(src, dst)
		st, added = t.v4.Upsert(k)
		st.min = minuteOf(now)
		return st, dir, added
	}
	k, dir := key6(src, dst)
	st = t.v6[k]
	if st == nil {
		st = new(dirs)
		t.v6[k] = st
		added = true
	}
	st.min = minuteOf(now)
	return st, dir, added
}

// forget drops the pairs whose last flow is older than cut (to the
// minute) and that have no contact pending, and returns how many.
func (t *pairTable) forget(cut int64) int {
	c := minuteOf(cut)
	old := func(st *dirs) bool { return st.min < c && !st.pending(0) && !st.pending(1) }
	n := t.v4.DeleteFunc(func(_ uint64, st *dirs) bool { return old(st) })
	for k, st := range t.v6 {
		if old(st) {
			delete(t.v6, k)
			n++
		}
	}
	return n
}

func (t *pairTable) len() int { return t.v4.Len() + len(t.v6) }
