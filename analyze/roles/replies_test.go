package roles

import (
	"maps"
	"math/rand/v2"
	"testing"

	"github.com/flowsift/flowsift/analyze/internal/addrkey"
)

// The reply counts must agree with a Go map for IPv4 hosts (plain or
// mapped: one key) and IPv6 ones; each must give every count with its
// host, and forget must drop exactly the counts of the hosts gone.
func TestRepliesMatchMap(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	host := func() addrkey.Addr { return mixedKey(r, 30) }
	type key struct {
		h addrkey.Addr
		k uint32
	}
	for round := range 50 {
		var rt replyTable
		ref := map[key]uint64{}
		for range 3000 {
			k := key{host(), uint32(6+11*r.IntN(2))<<16 | uint32(r.IntN(2000))}
			n, added := rt.count(k.h, k.k, true)
			if _, had := ref[k]; added == had {
				t.Fatalf("round %d: %v added=%v, reference had=%v", round, k, added, had)
			}
			*n++
			ref[k]++
		}
		for k, want := range ref {
			if n, _ := rt.count(k.h, k.k, false); n == nil || *n != want {
				t.Fatalf("round %d: count %v = %v, want %d", round, k, n, want)
			}
		}
		got := map[key]uint64{}
		rt.each(func(h addrkey.Addr, k uint32, n uint64) { got[key{h, k}] += n })
		if !maps.Equal(got, ref) {
			t.Fatalf("round %d: each gave %v, want %v", round, got, ref)
		}
		var gone hostSet
		for k := range ref {
			if r.IntN(3) == 0 {
				gone.add(k.h)
			}
		}
		rt.forget(&gone)
		for k, want := range ref {
			n, _ := rt.count(k.h, k.k, false)
			if gone.has(k.h) != (n == nil) || (n != nil && *n != want) {
				t.Fatalf("round %d: after forget, count %v = %v (host gone %v)", round, k, n, gone.has(k.h))
			}
		}
	}
}
