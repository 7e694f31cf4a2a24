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
// pending, p+1 while its first contact waits at absolute queue position p.
// Entry 2 is the stream time of the pair's last flow, for aging.
type dirs [3]int64

const seenDone = -1

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

// upsert returns the state of (src, dst), adding the pair if new, and the
// direction of src→dst in it, and stamps it with the stream time now. The
// pointer is valid until the next upsert or forget.
func (t *pairTable) upsert(src, dst netip.Addr, now int64) (*dirs, int) {
	if src.Is4() && dst.Is4() {
		k, dir := key4(src, dst)
		st, _ := t.v4.Upsert(k)
		st[2] = now
		return st, dir
	}
	k, dir := key6(src, dst)
	st := t.v6[k]
	if st == nil {
		st = new(dirs)
		t.v6[k] = st
	}
	st[2] = now
	return st, dir
}

// forget drops the pairs whose last flow is older than cut and that have
// no contact pending, and returns how many.
func (t *pairTable) forget(cut int64) int {
	old := func(st *dirs) bool { return st[2] < cut && st[0] <= 0 && st[1] <= 0 }
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
