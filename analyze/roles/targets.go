package roles

import (
	"iter"

	"github.com/flowsift/flowsift/analyze/internal/addrkey"
	"github.com/flowsift/flowsift/analyze/internal/u64map"
)

// The periodic targets of all hosts live in tables of all hosts (sixteen,
// see targetShards), not in a set per host. A contact is looked up for
// nearly every flow, and a set per host was a chain of dependent cache
// misses (the host's set, its table, the slot) that could start only once
// the host was found. Here the slot of
// a flow's contact follows from the flow alone, so Add asks for it 16
// flows ahead, as for the hosts and pairs. On the sample day (tree1m),
// in profiles of the analyser alone, the contacts took about 50 ms a run
// instead of about 105.

// rounds are one target's contacts: how many (a second apart or more),
// the last, and the sum and sum of squares of the intervals between them.
type rounds struct {
	pp      uint32 // protocol << 16 | port: in the table, the part of the target the key does not give
	n       uint32
	last    int64
	sum, sq float64
}

// tkey names a target of a host: an address, a protocol and a port.
// Addresses are addrkey.Addr, not netip.Addr, whose zone pointer is slow
// to hash and scanned by the collector in every bucket.
type tkey struct {
	host, dst addrkey.Addr
	pp        uint32
}

// targetTable holds the targets. Where host and target are both IPv4
// (plain or mapped, as the host table has them) the slot's key is
// mix(host, dst, pp), and the slot keeps pp: mix is Hash of host<<32|dst,
// a bijection, xored with a function of pp, so the key and pp give back
// the host and the target (hostOf), and a slot whose pp differs from the
// one looked for is another target whose key collided. Those (whose key
// is always in the table, with another pp), and the targets of IPv6 hosts
// or at IPv6 addresses, are in other.
type targetTable struct {
	v4    [targetShards]u64map.Map[rounds]
	other map[tkey]*rounds
}

// targetShards is how many tables the IPv4 targets are dealt into by the
// top bits of their keys (a hash already). One table doubles all at once,
// and the table it leaves is garbage until the collector runs: on the
// background day (2^18 hosts of about three targets) one table took the
// report's RSS from 994,708 KB (the sets per host) to 1,022,904 and
// 1,024,412 KB; sixteen, which double a sixteenth at a time, 1,003,648.
const targetShards = 16

func (t *targetTable) shard(key uint64) *u64map.Map[rounds] { return &t.v4[key>>60] }

func mix(host, dst, pp uint32) uint64 {
	return u64map.Hash(uint64(host)<<32|uint64(dst)) ^ uint64(pp)*0x9e3779b97f4a7c15
}

// hostOf is the IPv4 host of the slot with key k and protocol and port pp.
func hostOf(k uint64, pp uint32) uint32 {
	return uint32(u64map.Unhash(k^uint64(pp)*0x9e3779b97f4a7c15) >> 32)
}

func v4key(a addrkey.Addr) uint32 { return uint32(a[1]) }

// fromV4key is the host key of an IPv4 address (as addrkey.Of has it).
func fromV4key(a uint32) addrkey.Addr { return addrkey.Addr{0, 0xffff<<32 | uint64(a)} }

// prefetch asks for the slot of an IPv4 host's target.
func (t *targetTable) prefetch(host, dst, pp uint32) {
	key := mix(host, dst, pp)
	t.shard(key).Prefetch(key)
}

// get returns the target's rounds, nil if it has none; with add, it adds
// the target if absent (added says so). The pointer is valid until the
// next add or forget.
func (t *targetTable) get(k tkey, add bool) (r *rounds, added bool) {
	if is4(k.host) && is4(k.dst) {
		key := mix(v4key(k.host), v4key(k.dst), k.pp)
		m := t.shard(key)
		if add {
			r, added = m.Upsert(key)
			if added {
				r.pp = k.pp
				return r, true
			}
		} else {
			r, _ = m.Get(key)
		}
		if r == nil || r.pp == k.pp {
			return r, false
		}
	}
	// Not IPv4, or another target's key.
	r = t.other[k]
	if r == nil && add {
		if t.other == nil {
			t.other = map[tkey]*rounds{}
		}
		r = &rounds{pp: k.pp}
		t.other[k] = r
		added = true
	}
	return r, added
}

// forget drops the targets of the hosts gone. A target in other for
// want of its key's slot moves into the slot if it is now free: a lookup
// that finds a key's slot empty looks no further.
func (t *targetTable) forget(gone *hostSet) {
	for i := range t.v4 {
		t.v4[i].DeleteFuncKeep(func(k uint64, r *rounds) bool { return gone.has4(uint64(hostOf(k, r.pp))) })
	}
	for k, r := range t.other {
		switch {
		case gone.has(k.host):
			delete(t.other, k)
		case is4(k.host) && is4(k.dst):
			key := mix(v4key(k.host), v4key(k.dst), k.pp)
			if s, added := t.shard(key).Upsert(key); added {
				*s = *r
				delete(t.other, k)
			}
		}
	}
}

// all yields every target's host key and rounds, in no particular order.
func (t *targetTable) all() iter.Seq2[addrkey.Addr, *rounds] {
	return func(yield func(addrkey.Addr, *rounds) bool) {
		for i := range t.v4 {
			for k, r := range t.v4[i].All() {
				if !yield(fromV4key(hostOf(k, r.pp)), r) {
					return
				}
			}
		}
		for k, r := range t.other {
			if !yield(k.host, r) {
				return
			}
		}
	}
}

func is4(k addrkey.Addr) bool { return k[0] == 0 && k[1]>>32 == 0xffff }
