package talkers

import (
	"bytes"
	"testing"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/flow"
)

// The dstport and port rows say how many of their flows were ICMP and
// ICMPv6 (whose type and code the destination port carries), also after
// the shards' parts are merged; the counts themselves stay nfdump's.
func TestICMPFlowsPerPort(t *testing.T) {
	flows := flow.Batch{
		r("192.0.2.1", "10.0.0.1", 1, 0, 8<<8, 1, 84, 0),
		r("192.0.2.1", "10.0.0.2", 1, 0, 8<<8, 1, 84, 1),
		r("192.0.2.2", "10.0.0.3", 6, 40000, 8<<8, 1, 40, 2), // tcp/2048 shares the number
		r("2001:db8::1", "2001:db8::2", 58, 0, 128<<8, 1, 64, 3),
		r("10.0.0.1", "192.0.2.1", 1, 0, 0, 1, 84, 4),
	}
	want := map[uint16][3]uint64{2048: {3, 2, 0}, 32768: {1, 0, 1}, 0: {1, 1, 0}}
	check := func(name string, c *Counter) {
		t.Helper()
		for _, k := range []Key{DstPort, Port} {
			found := 0
			tb, err := c.Top(k, ByFlows)
			if err != nil {
				t.Fatal(err)
			}
			for _, row := range tb.Rows {
				w, ok := want[row.Port]
				if !ok {
					continue
				}
				if k == DstPort && (row.Flows != w[0] || row.ICMPFlows != w[1] || row.ICMPv6Flows != w[2]) ||
					k == Port && (row.ICMPFlows != w[1] || row.ICMPv6Flows != w[2]) {
					t.Errorf("%s %s %d: flows %d, icmp %d, icmpv6 %d; want %v", name, k, row.Port, row.Flows, row.ICMPFlows, row.ICMPv6Flows, w)
				}
				found++
			}
			if found != len(want) {
				t.Errorf("%s %s: %d of the %d ports checked", name, k, found, len(want))
			}
		}
	}
	one := New(Config{N: 10})
	one.Add(flows)
	check("one counter", one)

	merged := New(Config{N: 10})
	for i := range 2 {
		c := New(Config{N: 10, Shard: analyze.Shard{Index: i, Count: 2}})
		c.Add(flows)
		var b bytes.Buffer
		if err := c.WritePart(&b); err != nil {
			t.Fatal(err)
		}
		if err := merged.MergePart(&b); err != nil {
			t.Fatal(err)
		}
	}
	check("merged parts", merged)

	tb, _ := one.Top(SrcPort, ByFlows)
	for _, row := range tb.Rows {
		if row.ICMPFlows != 0 {
			t.Errorf("srcport %d says %d ICMP flows; ICMP's type is in the destination port", row.Port, row.ICMPFlows)
		}
	}
}
