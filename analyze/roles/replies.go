package roles

import (
	"github.com/flowsift/flowsift/analyze/internal/addrkey"
	"github.com/flowsift/flowsift/analyze/internal/u64map"
)

// The flows a host may have sent as answers, counted by protocol and
// source port, are kept for all hosts in one table, as the targets are
// (see targets.go): the slot of a flow's count follows from the flow, and
// Add asks for it ahead. A list per host, a map past eight ports, cost a
// scan or a hash behind the host's pointer on every such flow.

// rkey names a count: a host and its protocol << 16 | source port.
type rkey struct {
	host addrkey.Addr
	k    uint32
}

// replyTable holds the counts: an IPv4 host's (plain or mapped) in v4,
// keyed host << 24 | k, the rest in other.
type replyTable struct {
	v4    u64map.Map[uint64]
	other map[rkey]*uint64
}

func replyKey(host, k uint32) uint64 { return uint64(host)<<24 | uint64(k) }

// count returns the count of (host, k); with add, it adds it if absent
// (added says so). Nil: absent and not added. The pointer is valid until
// the next add or forget.
func (t *replyTable) count(host addrkey.Addr, k uint32, add bool) (n *uint64, added bool) {
	if is4(host) {
		key := replyKey(v4key(host), k)
		if add {
			return t.v4.Upsert(key)
		}
		n, _ = t.v4.Get(key)
		return n, false
	}
	rk := rkey{host, k}
	n = t.other[rk]
	if n == nil && add {
		if t.other == nil {
			t.other = map[rkey]*uint64{}
		}
		n = new(uint64)
		t.other[rk] = n
		added = true
	}
	return n, added
}

// forget drops the counts of the hosts gone.
func (t *replyTable) forget(gone *hostSet) {
	t.v4.DeleteFuncKeep(func(key uint64, _ *uint64) bool { return gone.has4(key >> 24) })
	for rk := range t.other {
		if gone.has(rk.host) {
			delete(t.other, rk)
		}
	}
}

// each calls f with every count's host key, k and count.
func (t *replyTable) each(f func(host addrkey.Addr, k uint32, n uint64)) {
	for key, n := range t.v4.All() {
		f(fromV4key(uint32(key>>24)), uint32(key&(1<<24-1)), *n)
	}
	for rk, n := range t.other {
		f(rk.host, rk.k, *n)
	}
}
