package episode

import (
	"encoding/gob"
	"fmt"
	"io"
	"net/netip"
	"slices"

	"github.com/flowsift/flowsift/analyze"
)

// part is an accountant's state as written between machines: its episodes
// with the sets the views are made of, and the excessive-flow findings. A
// source's episodes depend only on its own flows and findings, so the
// episodes of disjoint shards are disjoint and the views of their union
// are those of one run.
type part struct {
	Episodes []partEpisode
	Excess   []analyze.Finding
}

type partEpisode struct {
	Episode   Episode
	Dsts      []netip.Addr
	DstFlows  []uint64
	Ports     []uint16
	PortFlows []uint64
	Svc       map[uint32]uint64
	SvcN      uint64
	ICMP      []uint32 // protocol<<16 | type<<8 | code, sorted
	ICMPFlows []uint64
}

// WritePart writes the episodes of the accountant's shard for MergePart.
// Call it once, after the last flow and finding, instead of Result.
func (a *Accountant) WritePart(w io.Writer) error {
	var p part
	for _, b := range a.built() {
		e := partEpisode{Episode: b.ep, SvcN: b.svcN}
		for _, d := range b.dsts {
			e.Dsts, e.DstFlows = append(e.Dsts, d.key), append(e.DstFlows, d.flows)
		}
		b.ports.each(func(p uint16, n uint64) { e.Ports, e.PortFlows = append(e.Ports, p), append(e.PortFlows, n) })
		for _, d := range b.icmp {
			e.ICMP, e.ICMPFlows = append(e.ICMP, uint32(d.key)), append(e.ICMPFlows, d.flows)
		}
		if len(b.svc) > 0 {
			e.Svc = make(map[uint32]uint64, len(b.svc))
			for k, n := range b.svc {
				e.Svc[uint32(k)] = n
			}
		}
		p.Episodes = append(p.Episodes, e)
	}
	p.Excess = a.excess
	if err := gob.NewEncoder(w).Encode(&p); err != nil {
		return fmt.Errorf("episodes: write part: %w", err)
	}
	return nil
}

// MergePart adds the episodes of a part written by WritePart; Result then
// builds the views over them and the accountant's own.
func (a *Accountant) MergePart(r io.Reader) error {
	var p part
	if err := gob.NewDecoder(r).Decode(&p); err != nil {
		return fmt.Errorf("episodes: read part: %w", err)
	}
	for i, e := range p.Episodes {
		if len(e.Dsts) != len(e.DstFlows) || len(e.Ports) != len(e.PortFlows) || len(e.ICMP) != len(e.ICMPFlows) {
			return fmt.Errorf("episodes: read part: episode %d: target and flow lists differ in length", i)
		}
		b := built{ep: e.Episode, svcN: e.SvcN}
		for j, d := range e.Dsts {
			b.dsts = append(b.dsts, addrFlows{d, e.DstFlows[j]})
		}
		for j, k := range e.ICMP {
			b.icmp = append(b.icmp, keyFlows[portKey]{portKey(k), e.ICMPFlows[j]})
		}
		// The views search these sets: a part must keep them sorted (the
		// ports distinct too).
		if !slices.IsSortedFunc(b.dsts, func(x, y addrFlows) int { return x.key.Compare(y.key) }) || !ascending(e.Ports) {
			return fmt.Errorf("episodes: read part: episode %d: targets or ports out of order", i)
		}
		b.ports = portSetOf(e.Ports, e.PortFlows)
		if len(e.Svc) > 0 {
			b.svc = make(map[portKey]uint64, len(e.Svc))
			for k, n := range e.Svc {
				b.svc[portKey(k)] = n
			}
		}
		a.merged = append(a.merged, b)
	}
	a.mergedExcess = append(a.mergedExcess, p.Excess...)
	return nil
}

// ascending says whether ps goes up strictly.
func ascending(ps []uint16) bool {
	for i := 1; i < len(ps); i++ {
		if ps[i] <= ps[i-1] {
			return false
		}
	}
	return true
}
