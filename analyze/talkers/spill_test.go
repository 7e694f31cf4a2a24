package talkers

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"os"
	"reflect"
	"testing"

	"github.com/flowsift/flowsift/flow"
)

// spillFlows makes IPv4, IPv6, mixed and IPv4-mapped pairs, many of them
// repeated across batches, so that a pair's counts are spread over
// several spills.
func spillFlows(n int, seed uint64) flow.Batch {
	rng := rand.New(rand.NewPCG(seed, 1))
	v6 := netip.MustParseAddr("2001:db8::1")
	mapped := netip.MustParseAddr("::ffff:10.0.0.7")
	out := make(flow.Batch, n)
	for i := range out {
		r := flow.Record{Src: flow.AddrFromU32(0x0a000000 | uint32(rng.IntN(2000))), Dst: flow.AddrFromU32(0xc0a80000 | uint32(rng.IntN(400))),
			SrcPort: uint16(rng.IntN(1 << 16)), DstPort: uint16(rng.IntN(1024)), Proto: uint8(rng.IntN(3)) * 6,
			Packets: uint64(1 + rng.IntN(9)), Octets: uint64(40 + rng.IntN(1500)), Flows: uint32(rng.IntN(2))}
		switch i % 11 {
		case 3:
			r.Src = v6
		case 5:
			r.Dst = v6
		case 7:
			r.Src = mapped // not the same key as 10.0.0.7
		case 8:
			r.Src = flow.AddrFromU32(0x0a000007)
		}
		out[i] = r
	}
	return out
}

func countAll(cfg Config, flows flow.Batch) *Counter {
	c := New(cfg)
	for i := 0; i < len(flows); i += 1000 {
		c.Add(flows[i:min(i+1000, len(flows))])
	}
	return c
}

// A pair table that spills after every batch gives the same tables, row
// for row (with every tie), the same distinct counts and the same part as
// one that never spills; its files are gone after Close.
func TestSpillExact(t *testing.T) {
	flows := spillFlows(60_000, 9)
	for _, n := range []int{3, 20, -1} {
		want := countAll(Config{N: n}, flows)
		if err := want.Finish(); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		got := countAll(Config{N: n, MaxBytes: 1, TempDir: dir}, flows)
		if got.Spills() < 50 {
			t.Fatalf("N %d: %d spills, want one a batch", n, got.Spills())
		}
		if err := got.Finish(); err != nil {
			t.Fatal(err)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 && !isWindows() {
			t.Errorf("N %d: %d spill files left in the directory during the run", n, len(ents))
		}
		if !reflect.DeepEqual(got.Tables(), want.Tables()) {
			t.Fatalf("N %d: tables differ after spilling", n)
		}
		for _, k := range Keys {
			if g, w := got.Distinct(k), want.Distinct(k); g != w {
				t.Errorf("N %d: distinct %s %d, want %d", n, k, g, w)
			}
		}
		// A part written by a spilled counter merges to the same tables,
		// also into a counter that spills while merging.
		var pw bytes.Buffer
		if err := got.WritePart(&pw); err != nil {
			t.Fatal(err)
		}
		m := New(Config{N: n, MaxBytes: 1, TempDir: dir})
		if err := m.MergePart(&pw); err != nil {
			t.Fatal(err)
		}
		if err := m.Finish(); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(m.Tables(), want.Tables()) {
			t.Fatalf("N %d: tables differ after a spilled part merged", n)
		}
		// More flows after the tables were built count too.
		more := spillFlows(5000, 10)
		got.Add(more)
		want.Add(more)
		if !reflect.DeepEqual(got.Tables(), want.Tables()) {
			t.Fatalf("N %d: tables differ after more flows", n)
		}
		for _, c := range []*Counter{got, m} {
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("N %d: %d spill files left after Close", n, len(ents))
		}
	}
}

// A budget the table never reaches spills nothing.
func TestNoSpillWithinBudget(t *testing.T) {
	c := countAll(Config{MaxBytes: 64 << 20}, spillFlows(20_000, 3))
	if c.Spills() != 0 || c.Finish() != nil {
		t.Fatalf("%d spills, err %v", c.Spills(), c.Err())
	}
}

// A spill empties the table and lets its pages go: the next spill waits
// until the table is over its share again, not the next batch (kept, the
// pages were the share, and every batch spilled), and the table never
// holds much more than its share, however many times it fills (kept with
// room to grow, the pages crept past twice the share). The tables stay
// exact.
func TestSpillWaitsForTheTableToFillAgain(t *testing.T) {
	const share = 256 << 10 // 16 pages of 512 slots
	pairs := func(n int, base uint32) flow.Batch {
		b := make(flow.Batch, n)
		for i := range b {
			b[i] = flow.Record{Src: flow.AddrFromU32(0x0a000000 + base + uint32(i)), Dst: flow.AddrFromU32(0xc0a80001),
				Proto: 6, DstPort: 80, Packets: 1, Octets: 40}
		}
		return b
	}
	got, want := New(Config{MaxBytes: share, TempDir: t.TempDir()}), New(Config{})
	defer got.Close()
	most := int64(0)
	add := func(b flow.Batch) {
		got.Add(b)
		want.Add(b)
		most = max(most, got.memBytes())
	}
	for i := 0; got.Spills() == 0; i++ {
		if i == 100 {
			t.Fatal("the table never spilled")
		}
		add(pairs(4096, uint32(i)<<16))
	}
	for i := range 200 {
		add(pairs(10, uint32(i)<<4)) // seen before or a few new pairs
	}
	if n := got.Spills(); n != 1 {
		t.Fatalf("%d spills after 200 small batches, want 1", n)
	}
	for i := 0; got.Spills() < 20; i++ {
		if i == 1000 {
			t.Fatalf("%d spills: the table stopped spilling", got.Spills())
		}
		add(pairs(1024, 0x800000+uint32(i)<<10))
	}
	// A batch's pairs may go over the share before the check after it:
	// 1,024 pairs take a few pages.
	if most > share+share/4 {
		t.Errorf("the table held %d bytes, share %d", most, share)
	}
	if err := got.Finish(); err != nil {
		t.Fatal(err)
	}
	if err := want.Finish(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Tables(), want.Tables()) {
		t.Fatal("tables differ after spilling")
	}
}

// A spill directory that cannot be written is an error of the pass, with
// the reason, not a silent loss of counts.
func TestSpillError(t *testing.T) {
	c := New(Config{MaxBytes: 1, TempDir: "/nonexistent/flowsift"})
	c.Add(spillFlows(100, 1))
	if err := c.Finish(); err == nil || !bytes.Contains([]byte(err.Error()), []byte("spill")) {
		t.Fatalf("err %v, want a spill error", err)
	}
}

func isWindows() bool { return os.PathSeparator == '\\' }
