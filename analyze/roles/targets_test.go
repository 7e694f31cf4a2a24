package roles

import (
	"maps"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/flowsift/flowsift/analyze/internal/addrkey"
	"github.com/flowsift/flowsift/analyze/internal/u64map"
)

// The target table must agree with a Go map for IPv4 hosts and targets
// (plain or mapped: one key, as addrkey has it), IPv6 ones, and IPv4
// targets whose keys collide (crafted: the key and the port give back the
// host and the target, so another port with the same key is another host
// and target); all must give each target's host, and forget must drop
// exactly the targets of the hosts gone.
func TestTargetsMatchMap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	addr := func() addrkey.Addr { return mixedKey(r, 40) }
	for round := range 50 {
		var tt targetTable
		ref := map[tkey]uint32{}
		count := func(k tkey) {
			c, added := tt.get(k, true)
			if _, had := ref[k]; added == had {
				t.Fatalf("round %d: %v added=%v, reference had=%v", round, k, added, had)
			}
			c.n++
			ref[k]++
		}
		for range 2000 {
			k := tkey{addr(), addr(), uint32(6+11*r.IntN(2))<<16 | uint32(r.IntN(3))}
			count(k)
			if is4(k.host) && is4(k.dst) && r.IntN(10) == 0 {
				// A target with k's key and another port.
				pp := k.pp ^ 1
				hd := u64map.Unhash(mix(v4key(k.host), v4key(k.dst), k.pp) ^ uint64(pp)*0x9e3779b97f4a7c15)
				c := tkey{fromV4key(uint32(hd >> 32)), fromV4key(uint32(hd)), pp}
				if mix(v4key(c.host), v4key(c.dst), c.pp) != mix(v4key(k.host), v4key(k.dst), k.pp) {
					t.Fatal("the crafted target's key differs")
				}
				count(c)
			}
		}
		if len(tt.other) == 0 {
			t.Fatalf("round %d: no target outside the IPv4 table", round)
		}
		for k, n := range ref {
			if c, _ := tt.get(k, false); c == nil || c.n != n {
				t.Fatalf("round %d: target %v = %v, want %d", round, k, c, n)
			}
		}
		perHost := map[addrkey.Addr]uint32{}
		for k, n := range ref {
			perHost[k.host] += n
		}
		got := map[addrkey.Addr]uint32{}
		for h, c := range tt.all() {
			got[h] += c.n
		}
		if !maps.Equal(got, perHost) {
			t.Fatalf("round %d: all gave contacts by host %v, want %v", round, got, perHost)
		}
		var gone hostSet
		for h := range perHost {
			if r.IntN(2) == 0 {
				gone.add(h)
			}
		}
		tt.forget(&gone)
		for k, n := range ref {
			c, _ := tt.get(k, false)
			if gone.has(k.host) != (c == nil) || (c != nil && c.n != n) {
				t.Fatalf("round %d: after forget, target %v = %v (host gone %v)", round, k, c, gone.has(k.host))
			}
		}
	}
}

// mixedKey is a random host key among n of each kind: IPv4 (half of
// them), one IPv4-mapped address (the same key as its IPv4 form), IPv6.
func mixedKey(r *rand.Rand, n int) addrkey.Addr {
	switch r.IntN(4) {
	case 0, 1:
		return addrkey.Of(netip.AddrFrom4([4]byte{10, 0, 0, byte(r.IntN(n))}))
	case 2:
		return addrkey.Of(netip.MustParseAddr("::ffff:10.0.0.7"))
	}
	return addrkey.Of(netip.AddrFrom16([16]byte{0x20, 1, 0x0d, 0xb8, 15: byte(r.IntN(n))}))
}
