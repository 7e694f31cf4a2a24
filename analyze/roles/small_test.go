package roles

import (
	"math/rand/v2"
	"testing"
)

// A small must agree with a Go map through its spill from list to map.
func TestSmallMatchesMap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		var replies small[uint32, uint64]
		ref := map[uint32]uint64{}
		n := 1 + r.IntN(60) // below, at and beyond smallMax
		for range n {
			rk := uint32(r.IntN(30))
			v, _ := replies.get(rk)
			replies.set(rk, v+1)
			ref[rk]++
		}
		if replies.len() != len(ref) {
			t.Fatalf("round %d: length %d, want %d", round, replies.len(), len(ref))
		}
		got := map[uint32]uint64{}
		for k, v := range replies.all() {
			got[k] = v
		}
		for k, v := range ref {
			if got[k] != v {
				t.Fatalf("round %d: replies[%d] = %d, want %d", round, k, got[k], v)
			}
		}
	}
}
