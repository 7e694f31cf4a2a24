package roles

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/flowsift/flowsift/analyze/internal/addrkey"
	"github.com/flowsift/flowsift/flow"
)

// The pair table must give every host the peer counts a set of peers per
// host gives: a peer is a host's once it sent to it (the host followed) or
// heard from it (the host followed already), at most MaxPeers of them,
// with out and in bits. Addresses mix IPv4, the same IPv4 addresses
// mapped into IPv6 (one key, as addrkey has it), and IPv6.
func TestPairsMatchPerHostSets(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	addr := func() netip.Addr {
		n := byte(r.IntN(30))
		switch r.IntN(4) {
		case 0:
			return netip.AddrFrom16(netip.AddrFrom4([4]byte{10, 0, 0, n}).As16())
		case 1:
			return netip.AddrFrom16([16]byte{0x20, 1, 0x0d, 0xb8, 15: n})
		}
		return netip.AddrFrom4([4]byte{10, 0, 0, n})
	}
	const maxPeers = 7
	type ref struct {
		peers     map[addrkey.Addr]view
		truncated bool
	}
	model := map[addrkey.Addr]*ref{}
	see := func(h *ref, p addrkey.Addr, dir view) {
		if _, ok := h.peers[p]; !ok {
			if len(h.peers) >= maxPeers {
				h.truncated = true
				return
			}
		}
		h.peers[p] |= dir
	}
	a := New(Config{MaxPeers: maxPeers})
	for range 20000 {
		rec := flow.Record{Src: addr(), Dst: addr(), Proto: 6, TCPFlags: flow.TCPAck, Packets: 5, SrcPort: 40000, DstPort: 80}
		a.Add(flow.Batch{rec})
		if rec.Src == rec.Dst {
			continue
		}
		s, d := addrkey.Of(rec.Src), addrkey.Of(rec.Dst)
		if model[s] == nil {
			model[s] = &ref{peers: map[addrkey.Addr]view{}}
		}
		see(model[s], d, vOut)
		if h := model[d]; h != nil {
			see(h, s, vIn)
		}
	}
	if a.hosts.len() != len(model) {
		t.Fatalf("%d hosts, want %d", a.hosts.len(), len(model))
	}
	for k, want := range model {
		h := a.hosts.get(k)
		var peers, outPeers, spoke, answered uint32
		for _, v := range want.peers {
			peers++
			if v&vOut != 0 {
				outPeers++
			}
			if v&vIn != 0 {
				spoke++
			}
			if v == vOut|vIn {
				answered++
			}
		}
		if h == nil || h.peers != peers || h.outPeers != outPeers || h.spoke != spoke || h.answered != answered || h.truncated != want.truncated {
			t.Fatalf("host %v: %+v, want peers %d out %d spoke %d answered %d truncated %v", k, h, peers, outPeers, spoke, answered, want.truncated)
		}
	}
}

// forget clears the view of every end that is gone, in packed IPv4 pairs,
// IPv6 pairs and mixed ones (an IPv4 end of a mixed pair is found among
// the IPv4 hosts gone), and drops the pairs left with no view.
func TestForgetClearsTheEndsGone(t *testing.T) {
	v4a, v4b := addrkey.Of(netip.MustParseAddr("10.0.0.1")), addrkey.Of(netip.MustParseAddr("10.0.0.2"))
	v6a, v6b := addrkey.Of(netip.MustParseAddr("2001:db8::1")), addrkey.Of(netip.MustParseAddr("2001:db8::2"))
	pt := pairTable{other: map[[2]addrkey.Addr]*pairState{}}
	both := func(x, y addrkey.Addr) pairRef {
		p := refOf(x, y)
		st := pt.upsert(&p)
		st.setView(0, vCounted|vOut)
		st.setView(1, vCounted|vIn)
		return p
	}
	pairs := []pairRef{both(v4a, v4b), both(v6a, v4b), both(v6a, v6b), both(v4a, v6b)}
	var gone hostSet
	gone.add(v4b)
	gone.add(v6a)
	pt.forget(&gone)
	isGone := map[addrkey.Addr]bool{v4b: true, v6a: true}
	for i, p := range pairs {
		x, y := v4a, v4b
		switch i {
		case 1:
			x, y = v6a, v4b
		case 2:
			x, y = v6a, v6b
		case 3:
			x, y = v4a, v6b
		}
		st := pt.get(&p)
		if isGone[x] && isGone[y] {
			if st != nil {
				t.Errorf("pair %d: both ends gone, still held (%b)", i, *st)
			}
			continue
		}
		if st == nil {
			t.Fatalf("pair %d: dropped with an end left", i)
		}
		if got := st.view(p.sa)&vCounted != 0; got == isGone[x] {
			t.Errorf("pair %d: source end counted %v, gone %v", i, got, isGone[x])
		}
		if got := st.view(p.sb)&vCounted != 0; got == isGone[y] {
			t.Errorf("pair %d: destination end counted %v, gone %v", i, got, isGone[y])
		}
	}
}
