package roles

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/flowsift/flowsift/analyze/internal/addrkey"
)

// A set must agree with a Go map through its spill from list to tables,
// for keys that pack (IPv4 targets, plain or mapped: one key, as addrkey
// has it) and keys that do not (IPv6), and so must a small.
func TestSetsMatchMaps(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	addr := func() addrkey.Addr {
		switch r.IntN(3) {
		case 0:
			return addrkey.Of(netip.AddrFrom4([4]byte{10, 0, 0, byte(r.IntN(40))}))
		case 1:
			return addrkey.Of(netip.MustParseAddr("::ffff:10.0.0.7"))
		}
		return addrkey.Of(netip.AddrFrom16([16]byte{0x20, 1, 0x0d, 0xb8, 15: byte(r.IntN(40))}))
	}
	for round := range 200 {
		var targets set[tkey, target]
		var replies small[uint32, uint64]
		refT, refR := map[tkey]target{}, map[uint32]uint64{}
		n := 1 + r.IntN(60) // below, at and beyond smallMax
		for range n {
			tk := tkey{addr(), uint8(6 + 11*r.IntN(2)), uint16(r.IntN(3))}
			c := targets.get(tk)
			if c == nil {
				c = targets.add(tk)
			}
			c.n++
			x := refT[tk]
			x.n++
			refT[tk] = x

			rk := uint32(r.IntN(30))
			v, _ := replies.get(rk)
			replies.set(rk, v+1)
			refR[rk]++
		}
		if targets.len() != len(refT) || replies.len() != len(refR) {
			t.Fatalf("round %d: lengths %d %d, want %d %d", round, targets.len(), replies.len(), len(refT), len(refR))
		}
		for k, want := range refT {
			if c := targets.get(k); c == nil || c.n != want.n {
				t.Fatalf("round %d: target %v = %v, want %d", round, k, c, want.n)
			}
		}
		sumT := 0
		for c := range targets.values() {
			sumT += c.n
		}
		if sumT != n {
			t.Fatalf("round %d: values sum to %d, want %d", round, sumT, n)
		}
		got := map[uint32]uint64{}
		for k, v := range replies.all() {
			got[k] = v
		}
		for k, v := range refR {
			if got[k] != v {
				t.Fatalf("round %d: replies[%d] = %d, want %d", round, k, got[k], v)
			}
		}
	}
}
