package roles

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/flowsift/flowsift/analyze/internal/addrkey"
)

// A set must agree with a Go map through its spill from list to tables,
// for keys that pack (IPv4, plain or mapped: one key, as addrkey has it)
// and keys that do not (IPv6), and so must a small.
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
		var peers set[peerKey, uint8]
		var targets set[tkey, target]
		var replies small[uint32, uint64]
		refP, refT, refR := map[peerKey]uint8{}, map[tkey]target{}, map[uint32]uint64{}
		n := 1 + r.IntN(60) // below, at and beyond smallMax
		for range n {
			k := peerKey(addr())
			f := peers.get(k)
			if (f != nil) != (refP[k] != 0) {
				t.Fatalf("round %d: peer %v present %v, want %v", round, k, f != nil, refP[k] != 0)
			}
			if f == nil {
				f = peers.add(k)
			}
			*f |= uint8(1 + r.IntN(2))
			refP[k] |= *f

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
		if peers.len() != len(refP) || targets.len() != len(refT) || replies.len() != len(refR) {
			t.Fatalf("round %d: lengths %d %d %d, want %d %d %d", round, peers.len(), targets.len(), replies.len(), len(refP), len(refT), len(refR))
		}
		for k, want := range refP {
			if f := peers.get(k); f == nil || *f != want {
				t.Fatalf("round %d: peer %v = %v, want %d", round, k, f, want)
			}
		}
		sumP, wantP := 0, 0
		for f := range peers.values() {
			sumP += int(*f)
		}
		for _, f := range refP {
			wantP += int(f)
		}
		sumT := 0
		for c := range targets.values() {
			sumT += c.n
		}
		if sumP != wantP || sumT != n {
			t.Fatalf("round %d: values sum to %d and %d, want %d and %d", round, sumP, sumT, wantP, n)
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
