package talkers

import (
	"encoding/gob"
	"fmt"
	"io"
	"net/netip"
)

// part is a Counter's state as written between machines: every pair (the
// source and destination tables are sums of it), and the port and protocol
// counters that are not zero.
type part struct {
	Total   Counts
	Records uint64
	V4Pairs []v4Pair
	Pairs   []addrPair
	SrcPort []portCounts
	DstPort []portCounts
	Proto   []portCounts
	ICMP    []icmpCounts
}

// icmpCounts is a destination port's ICMP and ICMPv6 flows.
type icmpCounts struct {
	Key    uint16
	V4, V6 uint64
}

type v4Pair struct {
	Key uint64 // src<<32 | dst
	Counts
}

type addrPair struct {
	Src, Dst netip.Addr
	Counts
}

type portCounts struct {
	Key uint16
	Counts
}

// WritePart writes the counters (of the Counter's shard) for MergePart.
func (c *Counter) WritePart(w io.Writer) error {
	p := part{Total: c.total, Records: c.flowsN}
	pairs := func() {
		c.pair.v4.each(func(k uint64, n Counts) { p.V4Pairs = append(p.V4Pairs, v4Pair{k, n}) })
		for i, k := range c.pair.keys {
			p.Pairs = append(p.Pairs, addrPair{k.src, k.dst, c.pair.counts[i]})
		}
	}
	if c.spill != nil {
		if err := c.eachSpilled(pairs); err != nil {
			return err
		}
	} else {
		pairs()
	}
	used := func(t *portTable) []portCounts {
		var out []portCounts
		t.each(func(p uint16, n Counts) { out = append(out, portCounts{p, n}) })
		return out
	}
	for i, n := range c.proto {
		if n.Flows != 0 {
			p.Proto = append(p.Proto, portCounts{uint16(i), n})
		}
	}
	p.SrcPort, p.DstPort = used(&c.sport), used(&c.dport)
	if c.icmp != nil {
		for i := range 65536 {
			if v4, v6 := c.icmp[0][i], c.icmp[1][i]; v4|v6 != 0 {
				p.ICMP = append(p.ICMP, icmpCounts{uint16(i), v4, v6})
			}
		}
	}
	if err := gob.NewEncoder(w).Encode(&p); err != nil {
		return fmt.Errorf("talkers: write part: %w", err)
	}
	return nil
}

// MergePart adds the counters of a part written by WritePart: a Counter
// that merges the parts of every shard holds what one Counter over all
// the flows would.
func (c *Counter) MergePart(r io.Reader) error {
	var p part
	if err := gob.NewDecoder(r).Decode(&p); err != nil {
		return fmt.Errorf("talkers: read part: %w", err)
	}
	c.src, c.dst, c.pairTop = nil, nil, nil
	c.portArrays()
	c.total.sum(&p.Total)
	c.flowsN += p.Records
	for i, e := range p.V4Pairs {
		if e.Flows == 0 {
			// Every pair counted has a flow: a part without one is
			// damaged.
			return fmt.Errorf("talkers: read part: pair %#x has no flow", e.Key)
		}
		c.pair.v4.add(e.Key, mix(e.Key), e.Counts)
		if i%4096 == 0 {
			c.maybeSpill()
		}
	}
	for _, e := range p.Pairs {
		c.pair.get(pairKey{e.Src, e.Dst}).sum(&e.Counts)
	}
	c.maybeSpill()
	if c.err != nil {
		return c.err
	}
	for _, e := range p.SrcPort {
		c.sport.at(e.Key).sum(&e.Counts)
	}
	for _, e := range p.DstPort {
		c.dport.at(e.Key).sum(&e.Counts)
	}
	for _, e := range p.Proto {
		if e.Key > 255 {
			return fmt.Errorf("talkers: read part: protocol %d", e.Key)
		}
		c.proto[e.Key].sum(&e.Counts)
	}
	for _, e := range p.ICMP {
		c.addICMP(1, e.Key, e.V4)
		c.addICMP(58, e.Key, e.V6)
	}
	return nil
}
