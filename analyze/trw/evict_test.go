package trw

import (
	"cmp"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"testing"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/flow"
)

// mixedStream is three days of sources that come back: probes that fail,
// contacts that are answered (by an ACK or a reply flow), refusals, UDP
// and ICMP, IPv4 and a few IPv6 and IPv4-mapped sources; sources and
// pairs fall silent for minutes to days, so that under a small MaxBytes
// they are evicted, found again, evicted again and aged out on disk.
func mixedStream(seed uint64, n int) flow.Batch {
	rng := rand.New(rand.NewPCG(seed, 7))
	var b flow.Batch
	t := int64(0)
	src := func() netip.Addr {
		switch x := rng.IntN(100); {
		case x < 2:
			return netip.AddrFrom16([16]byte{0x20, 1, 0xdb, 8, 15: byte(rng.IntN(40))})
		case x < 3:
			return netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff, 12: 198, 13: 51, 14: 100, 15: byte(rng.IntN(40))})
		case x < 60:
			return flow.AddrFromU32(0xc6336400 + uint32(rng.IntN(3000))) // comes back often
		}
		return flow.AddrFromU32(0x2d000000 + uint32(rng.IntN(200_000))) // seldom
	}
	dst := func() netip.Addr { return flow.AddrFromU32(0x0a000000 + uint32(rng.IntN(2000))) }
	for len(b) < n {
		// Mostly seconds apart, now and then a silence of hours.
		if rng.IntN(20_000) == 0 {
			t += int64(rng.IntN(30)) * hour
		}
		t += int64(rng.IntN(900))
		r := flow.Record{Start: t - int64(rng.IntN(3000)), End: t, Src: src(), Dst: dst(), Proto: 6,
			SrcPort: uint16(1024 + rng.IntN(60000)), DstPort: uint16(rng.IntN(1024)), Packets: 1}
		if r.Src.Is6() && !r.Src.Is4In6() {
			r.Dst = netip.AddrFrom16([16]byte{0x20, 1, 0xdb, 8, 1, 14: byte(rng.IntN(3)), 15: byte(rng.IntN(50))})
		}
		switch x := rng.IntN(10); {
		case x < 4:
			r.TCPFlags = flow.TCPSyn
		case x < 6:
			r.TCPFlags = flow.TCPSyn | flow.TCPAck
		case x < 7:
			r.Proto = 17
		case x < 8:
			r.Proto, r.SrcPort, r.DstPort = 1, 0, 8<<8
		default:
			r.TCPFlags = flow.TCPSyn
		}
		b = append(b, r)
		if rng.IntN(4) == 0 {
			// The destination answers now, or refuses, or answers late.
			a := flow.Record{Start: r.End + int64(rng.IntN(15_000)), Src: r.Dst, Dst: r.Src, Proto: r.Proto,
				SrcPort: r.DstPort, DstPort: r.SrcPort, Packets: 1, TCPFlags: flow.TCPSyn | flow.TCPAck}
			if rng.IntN(3) == 0 {
				a.TCPFlags = flow.TCPRst | flow.TCPAck
			}
			a.End = a.Start
			t = max(t, a.End)
			b = append(b, a)
		}
	}
	return b
}

// Under a MaxBytes that evicts hundreds of times, with merges and runs
// aged out on disk, the findings equal those of a run without the bound,
// field for field.
func TestEvictedEqualsUnbounded(t *testing.T) {
	for _, seed := range []uint64{1, 2} {
		b := mixedStream(seed, 200_000)
		run := func(cfg Config) (*Detector, []analyze.Finding) {
			var got []analyze.Finding
			d := New(cfg, func(f analyze.Finding) { got = append(got, f) })
			for i := 0; i < len(b); i += 1000 {
				d.Add(b[i:min(i+1000, len(b))])
			}
			d.Flush()
			return d, got
		}
		_, want := run(DefaultConfig())
		cfg := DefaultConfig()
		cfg.MaxBytes = 768 << 10
		cfg.TempDir = t.TempDir()
		d, got := run(cfg)
		n, bytes := d.Evicted()
		c := d.cold
		merges, rebuilds := c.pairs.merges+c.srcs4.merges, c.pairs.rebuilds+c.srcs4.rebuilds
		t.Logf("seed %d: %d findings; evicted %d times, %d bytes, %d merges, %d filter rebuilds; pairs found %d, aged %d, runs dropped %d; sources found %d (IPv6 %d), aged %d",
			seed, len(want), n, bytes, merges, rebuilds, c.pairs.found, c.pairs.aged, c.pairs.dropped, c.srcs4.found, c.srcs6.found, c.srcs4.aged)
		if _, sheds := d.Shed(); sheds != 0 {
			t.Fatalf("seed %d: shed %d times", seed, sheds)
		}
		if len(want) < 20 {
			t.Fatalf("seed %d: only %d findings: the stream tests too little", seed, len(want))
		}
		if !reflect.DeepEqual(got, want) {
			for i := range min(len(got), len(want)) {
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Fatalf("seed %d: finding %d of %d/%d differs:\n got %+v\nwant %+v", seed, i, len(got), len(want), got[i], want[i])
				}
			}
			t.Fatalf("seed %d: %d findings under the bound, %d without", seed, len(got), len(want))
		}
		if n < 50 || merges == 0 || rebuilds == 0 || c.pairs.found == 0 || c.pairs.aged == 0 || c.pairs.dropped == 0 ||
			c.srcs4.found == 0 || c.srcs6.found == 0 || c.srcs4.aged == 0 {
			t.Fatalf("seed %d: the test wants many evictions, merges, filter rebuilds, and entries found, aged and dropped on disk", seed)
		}
	}
}

// A source round-trips through its disk form whole.
func TestSourceEncoding(t *testing.T) {
	var mixed evidence
	for _, a := range []string{"10.0.0.1", "::ffff:10.0.0.2", "2001:db8::1", "192.0.2.9"} {
		mixed.add(netip.MustParseAddr(a))
	}
	for _, s := range []*source{
		{walk: Walk{LR: 64, Attempts: 3}, contacts: 4, last: 123456789, started: -5, targets: mixed},
		{walk: Walk{LR: 256, Attempts: 4}, decided: true, contacts: 4, last: 1},
		{walk: Walk{LR: 1}, targets: evidence{v4: []uint32{}}},
	} {
		got, err := decodeSource(appendSource(nil, s))
		if err != nil {
			t.Fatal(err)
		}
		if got.targets.held() != s.targets.held() || !slices.Equal(got.targets.addrs(), s.targets.addrs()) {
			t.Fatalf("round trip: targets %v (held %v), want %v (held %v)", got.targets.addrs(), got.targets.held(), s.targets.addrs(), s.targets.held())
		}
		got.targets, s.targets = evidence{}, evidence{}
		if !reflect.DeepEqual(got, s) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, s)
		}
	}
	if _, err := decodeSource([]byte{2, 0, 0}); err == nil {
		t.Fatal("a short record decoded")
	}
}

// sortByKey orders by key and keeps every entry, whether the keys spread
// over its buckets or crowd into a few (shared top bits), with repeats.
func TestSortByKey(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 4095, 4096, 100_000} {
		for _, mask := range []uint64{^uint64(0), 0xffff_0000_0000, 0x0003_0000_0000_00ff, 0xffffffff} {
			a := make([][2]uint64, n)
			for i := range a {
				a[i] = [2]uint64{rng.Uint64() & mask, uint64(i)}
			}
			got := slices.Clone(a)
			sortByKey(got, func(x *[2]uint64) uint64 { return x[0] })
			if !slices.IsSortedFunc(got, func(x, y [2]uint64) int { return cmp.Compare(x[0], y[0]) }) {
				t.Fatalf("n %d mask %x: not sorted", n, mask)
			}
			byBoth := func(x, y [2]uint64) int { return cmp.Or(cmp.Compare(x[0], y[0]), cmp.Compare(x[1], y[1])) }
			slices.SortFunc(got, byBoth)
			slices.SortFunc(a, byBoth)
			if !slices.Equal(got, a) {
				t.Fatalf("n %d mask %x: entries lost or changed", n, mask)
			}
		}
	}
}

// A cold file that can no longer be read (here closed behind the store's
// back) gives the store up: the detector goes on, forgetting from then on,
// and Shed says it shortened the horizon.
func TestColdReadErrorFallsBack(t *testing.T) {
	b := mixedStream(5, 60_000)
	cfg := DefaultConfig()
	cfg.MaxBytes = 512 << 10
	cfg.TempDir = t.TempDir()
	d := New(cfg, func(analyze.Finding) {})
	half := len(b) / 2
	d.Add(b[:half])
	if d.cold == nil || len(d.cold.srcs4.runs) == 0 {
		t.Fatal("nothing evicted in the first half: the test needs a bigger stream")
	}
	for _, tb := range d.cold.tables() {
		for _, r := range tb.runs {
			r.f.Close()
		}
	}
	d.Add(b[half:])
	d.Flush()
	if !d.coldBroken || d.cold != nil {
		t.Fatal("a read error did not give the cold store up")
	}
	if h, n := d.Shed(); n == 0 || h <= 0 {
		t.Fatalf("shed %d times (%d ms): want the lost state reported as shed", n, h)
	}
}

// Evidence keeps the first 64 targets whatever their family, and gives
// them back sorted, mapped and IPv6 addresses as they came.
func TestEvidence(t *testing.T) {
	var e evidence
	if e.held() {
		t.Fatal("empty evidence held")
	}
	var want []netip.Addr
	for i := range 100 {
		var a netip.Addr
		switch i % 3 {
		case 0:
			a = netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		case 1:
			a = netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff, 12: 10, 13: 1, 14: byte(i >> 8), 15: byte(i)})
		default:
			a = netip.AddrFrom16([16]byte{0x20, 1, 0x0d, 0xb8, 15: byte(i)})
		}
		e.add(a)
		if i < maxEvidence {
			want = append(want, a)
		}
	}
	sortAddrs(want)
	if got := e.addrs(); !e.held() || !slices.Equal(got, want) {
		t.Fatalf("evidence %v, want %v", got, want)
	}
}
