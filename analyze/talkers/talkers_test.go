package talkers

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/flowsift/flowsift/flow"
)

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func r(src, dst string, proto uint8, sp, dp uint16, pkts, bytes uint64, start int64) flow.Record {
	return flow.Record{Src: ip(src), Dst: ip(dst), Proto: proto, SrcPort: sp, DstPort: dp,
		Packets: pkts, Octets: bytes, Start: start, End: start + 100}
}

func TestHandCheckedCounts(t *testing.T) {
	c := New(Config{N: 3})
	c.Add(flow.Batch{
		r("10.0.0.1", "10.0.0.9", 6, 1000, 80, 10, 1000, 0),
		r("10.0.0.1", "10.0.0.9", 6, 1001, 80, 5, 500, 10),
		r("10.0.0.2", "10.0.0.9", 17, 53, 53, 1, 100, 20), // equal ports: counts twice under "port"
		r("10.0.0.3", "10.0.0.8", 6, 2000, 22, 20, 200, 30),
	})
	if got := c.Totals(); got != (Counts{Flows: 4, Packets: 36, Bytes: 1800}) {
		t.Fatalf("totals = %+v", got)
	}
	tb, err := c.Top(SrcIP, ByBytes)
	if err != nil {
		t.Fatal(err)
	}
	want := []Row{
		{Addr: ip("10.0.0.1"), Counts: Counts{2, 15, 1500}},
		{Addr: ip("10.0.0.3"), Counts: Counts{1, 20, 200}},
		{Addr: ip("10.0.0.2"), Counts: Counts{1, 1, 100}},
	}
	if len(tb.Rows) != 3 || tb.Distinct != 3 {
		t.Fatalf("rows = %+v", tb)
	}
	for i := range want {
		if tb.Rows[i] != want[i] {
			t.Errorf("srcip/bytes row %d = %+v, want %+v", i, tb.Rows[i], want[i])
		}
	}
	tb, _ = c.Top(SrcIP, ByPackets)
	if tb.Rows[0].Addr != ip("10.0.0.3") || tb.Rows[1].Addr != ip("10.0.0.1") {
		t.Errorf("srcip/packets order = %v %v", tb.Rows[0].Addr, tb.Rows[1].Addr)
	}
	tb, _ = c.Top(Port, ByFlows)
	// port 80: 2 flows, 1500 bytes; 53: 2 (one flow, both ends), 200 bytes;
	// then 1000 (1000 bytes), 2000 and 22 (200), 1001 (500)... with 1 flow each.
	if tb.Distinct != 6 || tb.Rows[0].Port != 80 || tb.Rows[0].Flows != 2 ||
		tb.Rows[1].Port != 53 || tb.Rows[1].Flows != 2 || tb.Rows[1].Bytes != 200 || tb.Rows[2].Port != 1000 {
		t.Errorf("port/flows = %+v", tb)
	}
	tb, _ = c.Top(DstPort, ByFlows)
	if tb.Rows[0].Port != 80 || tb.Rows[0].Flows != 2 || tb.Distinct != 3 {
		t.Errorf("dstport/flows = %+v", tb)
	}
	tb, _ = c.Top(Pair, ByFlows)
	if tb.Rows[0].Label(Pair) != "10.0.0.1 -> 10.0.0.9" || tb.Rows[0].Flows != 2 {
		t.Errorf("pair = %+v", tb.Rows[0])
	}
	tb, _ = c.Top(Proto, ByFlows)
	if tb.Rows[0].Proto != 6 || tb.Rows[0].Flows != 3 || tb.Rows[1].Proto != 17 {
		t.Errorf("proto = %+v", tb.Rows)
	}
	if got := len(c.Tables()); got != len(Keys)*len(Orders) {
		t.Errorf("Tables = %d", got)
	}
}

func TestAggregatedFlowsCount(t *testing.T) {
	c := New(Config{})
	x := r("10.0.0.1", "10.0.0.2", 6, 1, 2, 3, 4, 0)
	x.Flows = 7 // a v8 aggregate standing for 7 flows
	c.AddRecord(&x)
	if c.Totals().Flows != 7 || c.Records() != 1 {
		t.Fatalf("totals = %+v records %d", c.Totals(), c.Records())
	}
}

func TestTieOrdering(t *testing.T) {
	c := New(Config{N: 4})
	// Same bytes everywhere; packets break the first tie, then flows, then
	// the address (IPv4 before IPv6, numeric, not textual: 10.0.0.9 < 10.0.0.10).
	c.Add(flow.Batch{
		r("10.0.0.10", "1.1.1.1", 6, 1, 1, 1, 100, 0),
		r("10.0.0.9", "1.1.1.1", 6, 1, 1, 1, 100, 0),
		r("2001:db8::1", "1.1.1.1", 6, 1, 1, 1, 100, 0),
		r("10.0.0.200", "1.1.1.1", 6, 1, 1, 2, 100, 0),
		r("10.0.0.100", "1.1.1.1", 6, 1, 1, 1, 50, 0),
		r("10.0.0.100", "1.1.1.1", 6, 1, 1, 0, 50, 0),
	})
	tb, _ := c.Top(SrcIP, ByBytes)
	got := []string{}
	for _, row := range tb.Rows {
		got = append(got, row.Addr.String())
	}
	want := []string{"10.0.0.200", "10.0.0.100", "10.0.0.9", "10.0.0.10"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("order = %v, want %v", got, want)
		}
	}
	if tb.Distinct != 5 {
		t.Errorf("distinct = %d", tb.Distinct)
	}
	// Unlimited rows keep the IPv6 address last.
	c.n = -1
	tb, _ = c.Top(SrcIP, ByBytes)
	if len(tb.Rows) != 5 || tb.Rows[4].Addr != ip("2001:db8::1") {
		t.Errorf("unlimited = %+v", tb.Rows)
	}
	if _, err := c.Top(Key(99), ByBytes); err == nil {
		t.Error("unknown key accepted")
	}
}

// TestNoFlows: a Counter that saw no flow (its port counters not made)
// answers every table empty, and its part merges like any other.
func TestNoFlows(t *testing.T) {
	empty := New(Config{})
	for _, tb := range empty.Tables() {
		if tb.Distinct != 0 || len(tb.Rows) != 0 {
			t.Errorf("%v by %v: %d distinct, %d rows; want none", tb.Key, tb.Order, tb.Distinct, len(tb.Rows))
		}
	}
	for _, k := range Keys {
		if n := empty.Distinct(k); n != 0 {
			t.Errorf("Distinct(%v) = %d, want 0", k, n)
		}
	}

	full := New(Config{})
	full.Add(flow.Batch{r("10.0.0.1", "10.0.0.2", 6, 40000, 22, 3, 180, 0)})
	var b bytes.Buffer
	if err := empty.WritePart(&b); err != nil {
		t.Fatal(err)
	}
	if err := full.MergePart(&b); err != nil {
		t.Fatal(err)
	}
	b.Reset()
	if err := full.WritePart(&b); err != nil {
		t.Fatal(err)
	}
	fresh := New(Config{})
	if err := fresh.MergePart(&b); err != nil {
		t.Fatal(err)
	}
	tb, err := fresh.Top(DstPort, ByFlows)
	if err != nil {
		t.Fatal(err)
	}
	if len(tb.Rows) != 1 || tb.Rows[0].Port != 22 || tb.Rows[0].Counts.Flows != 1 || tb.Rows[0].Counts.Bytes != 180 {
		t.Errorf("dstport table after the merges: %+v, want one row: port 22, 1 flow, 180 bytes", tb.Rows)
	}
}

// TestPortBlocks: ports at the edges of the 256-port blocks the port
// tables read (see portTable) are all counted, in the tables, in Distinct
// and through a part, and only they.
func TestPortBlocks(t *testing.T) {
	edges := []uint16{0, 255, 256, 16383, 16384, 32767, 32768, 65279, 65280, 65535}
	c := New(Config{N: -1})
	var b flow.Batch
	for i, p := range edges {
		// Source port p, destination port p+1 (wrapping): both in blocks
		// at the edges.
		b = append(b, r("10.0.0.1", "10.0.0.2", 17, p, p+1, 1, uint64(100+i), int64(i)))
	}
	// And blocks only a source port or only a destination port reached.
	b = append(b, r("10.0.0.3", "10.0.0.4", 6, 1000, 40000, 1, 60, 20))
	c.Add(b)
	want := map[Key]map[uint16]uint64{SrcPort: {1000: 1}, DstPort: {40000: 1}, Port: {1000: 1, 40000: 1}}
	for _, p := range edges {
		want[SrcPort][p]++
		want[DstPort][p+1]++
		want[Port][p]++
		want[Port][p+1]++
	}
	var part bytes.Buffer
	if err := c.WritePart(&part); err != nil {
		t.Fatal(err)
	}
	merged := New(Config{N: -1})
	if err := merged.MergePart(&part); err != nil {
		t.Fatal(err)
	}
	for name, cnt := range map[string]*Counter{"counter": c, "merged part": merged} {
		for k, w := range want {
			if n := cnt.Distinct(k); n != len(w) {
				t.Errorf("%s: Distinct(%v) = %d, want %d", name, k, n, len(w))
			}
			tb, err := cnt.Top(k, ByFlows)
			if err != nil {
				t.Fatal(err)
			}
			got := map[uint16]uint64{}
			for _, row := range tb.Rows {
				got[row.Port] = row.Flows
			}
			if len(got) != len(w) {
				t.Errorf("%s: %v rows %v, want %v", name, k, got, w)
				continue
			}
			for p, f := range w {
				if got[p] != f {
					t.Errorf("%s: %v port %d: %d flows, want %d", name, k, p, got[p], f)
				}
			}
		}
	}
}
