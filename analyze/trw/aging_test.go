package trw

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/flow"
)

const hour = 3600_000

func syn(t int64, src, dst string) flow.Record { return rec(t, src, dst, 6, flow.TCPSyn) }

func ack(t int64, src, dst string) flow.Record { return rec(t, src, dst, 6, flow.TCPSyn|flow.TCPAck) }

func runTRW(cfg Config, b flow.Batch) (*Detector, []analyze.Finding) {
	var got []analyze.Finding
	d := New(cfg, func(f analyze.Finding) { got = append(got, f) })
	d.Add(b)
	d.Flush()
	return d, got
}

func never() Config { c := DefaultConfig(); c.HorizonMS = -1; return c }

// Three unanswered probes, a silence of two days, one more: with the
// horizon the source was forgotten and the fourth failure is a first
// one; kept forever, it is the fourth in a row and a scanner.
func TestHorizonForgetsSilentSource(t *testing.T) {
	src := "198.51.100.9"
	b := flow.Batch{syn(0, src, "10.0.0.1"), syn(1000, src, "10.0.0.2"), syn(2000, src, "10.0.0.3")}
	// Other traffic moves the stream clock through the silence.
	for h := int64(1); h <= 48; h++ {
		b = append(b, ack(h*hour, "10.9.9.9", fmt.Sprintf("10.8.0.%d", h)))
	}
	b = append(b, syn(48*hour+1, src, "10.0.0.4"))
	if _, got := runTRW(never(), b); len(got) != 1 || got[0].Src != netip.MustParseAddr(src) {
		t.Fatalf("no horizon: %d findings, want the source as a scanner", len(got))
	}
	d, got := runTRW(DefaultConfig(), b)
	if len(got) != 0 {
		t.Fatalf("horizon of a day: %d findings (%v), want none", len(got), got[0].Src)
	}
	if _, srcs := d.Forgotten(); srcs == 0 {
		t.Fatal("no source forgotten")
	}
}

// A source that probes every ten hours, never silent for a day, fails
// four times in a row over thirty hours: its walk restarts after a
// horizon undecided, so it is no scanner; without the horizon it is.
func TestHorizonRestartsSlowWalk(t *testing.T) {
	src := "198.51.100.10"
	var b flow.Batch
	for i := int64(0); i < 4; i++ {
		b = append(b, syn(i*10*hour, src, fmt.Sprintf("10.0.1.%d", i+1)))
	}
	if _, got := runTRW(never(), b); len(got) != 1 {
		t.Fatalf("no horizon: %d findings, want 1", len(got))
	}
	if _, got := runTRW(DefaultConfig(), b); len(got) != 0 {
		t.Fatalf("horizon of a day: %d findings, want none", len(got))
	}
	// Four failures within the horizon still decide.
	b = b[:0]
	for i := int64(0); i < 4; i++ {
		b = append(b, syn(i*7*hour, src, fmt.Sprintf("10.0.1.%d", i+1)))
	}
	if _, got := runTRW(DefaultConfig(), b); len(got) != 1 {
		t.Fatalf("four failures in 21 hours: %d findings, want 1", len(got))
	}
}

// A pair silent for longer than the horizon is forgotten: its next flow
// is a first contact again and counts in the walk.
func TestHorizonForgetsSilentPair(t *testing.T) {
	src, dst := "10.0.0.5", "192.0.2.80"
	b := flow.Batch{ack(0, src, dst)}
	// The source stays active with answered contacts to new hosts, which
	// count too; then contacts dst again after 30 hours.
	for h := int64(6); h <= 30; h += 6 {
		b = append(b, ack(h*hour, src, fmt.Sprintf("192.0.2.%d", h)))
	}
	b = append(b, ack(30*hour+1, src, dst))
	contacts := func(cfg Config) int {
		d, _ := runTRW(cfg, b)
		s, _ := d.srcs.Get(netip.MustParseAddr(src))
		return s.contacts
	}
	if a, n := contacts(DefaultConfig()), contacts(never()); a != 7 || n != 6 {
		t.Fatalf("first contacts with the horizon %d, without %d: want 7 and 6 (dst twice with it)", a, n)
	}
}

// With sources that each appear once, the state held follows the last
// horizon of traffic, not the archive: ten days of a fresh source every
// minute leave at most a day and a half of them.
func TestHorizonBoundsState(t *testing.T) {
	var b flow.Batch
	const perDay = 24 * 60
	for i := range 10 * perDay {
		src := flow.AddrFromU32(0x2d000000 + uint32(i))
		r := rec(int64(i)*60_000, "0.0.0.0", "10.0.0.1", 6, flow.TCPSyn|flow.TCPAck)
		r.Src = src
		b = append(b, r)
	}
	d, _ := runTRW(DefaultConfig(), b)
	pairs, srcs := d.Tracked()
	if pairs > perDay*3/2+1 || srcs > perDay*3/2+1 {
		t.Fatalf("after ten days: %d pairs, %d sources held; want at most a day and a half's (%d)", pairs, srcs, perDay*3/2)
	}
	d, _ = runTRW(never(), b)
	if pairs, srcs := d.Tracked(); pairs != 10*perDay || srcs != 10*perDay {
		t.Fatalf("no horizon: %d pairs, %d sources, want every one (%d)", pairs, srcs, 10*perDay)
	}
}

func TestHorizonValidate(t *testing.T) {
	c := DefaultConfig()
	c.HorizonMS = 1000
	if c.Validate() == nil {
		t.Fatal("a horizon shorter than the reply window accepted")
	}
	c.HorizonMS = -1
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

// A pending position is stored modulo posSpan and read back against the
// queue's base: exact for every position within posSpan of the base,
// across the wrap.
func TestPairPositionWraps(t *testing.T) {
	for _, base := range []int64{0, 5, posSpan - 3, posSpan, 3*posSpan + 17, 1 << 40} {
		for _, off := range []int64{0, 1, 2, posSpan/2 - 1, maxPending * 2, posSpan - 1} {
			var st dirs
			st.setPos(1, base+off)
			if !st.pending(1) || st.pending(0) {
				t.Fatalf("base %d off %d: pending %v %v", base, off, st.pending(0), st.pending(1))
			}
			if got := st.pos(1, base); got != base+off {
				t.Fatalf("base %d: position %d read back as %d", base, base+off, got)
			}
		}
	}
}

// Under MaxBytes the state in memory stays within the bound: those
// silent longest go to temporary files, nothing is forgotten early (no
// shed), and a scan after them is still found.
func TestMaxBytesEvicts(t *testing.T) {
	b := freshSources(100_000)
	scan := flow.Batch{}
	for i := range 5 {
		scan = append(scan, syn(100_000_000+int64(i)*1000, "203.0.113.9", fmt.Sprintf("10.1.0.%d", i+1)))
	}
	cfg := DefaultConfig()
	cfg.MaxBytes = 1 << 20
	cfg.TempDir = t.TempDir()
	var got []analyze.Finding
	d := New(cfg, func(f analyze.Finding) { got = append(got, f) })
	for i := 0; i < len(b); i += 4096 {
		d.Add(b[i:min(i+4096, len(b))])
		if m := d.memBytes(); m > cfg.MaxBytes+4096*(sourceBytes+48) {
			t.Fatalf("after %d flows: %d bytes held, bound %d", i+4096, m, cfg.MaxBytes)
		}
	}
	d.Add(scan)
	if n, bytes := d.Evicted(); n == 0 || bytes == 0 {
		t.Fatalf("evicted %d times, %d bytes: want evictions", n, bytes)
	}
	d.Flush()
	if h, n := d.Shed(); n != 0 {
		t.Fatalf("shed %d times (horizon %d ms): want none, the state was evicted", n, h)
	}
	if ents, _ := os.ReadDir(cfg.TempDir); len(ents) != 0 {
		t.Fatalf("%d temporary files left after Flush", len(ents))
	}
	if len(got) != 1 || got[0].Src != netip.MustParseAddr("203.0.113.9") {
		t.Fatalf("%d findings under the bound, want the scanner", len(got))
	}
}

// When the temporary files cannot be made the detector forgets instead,
// and says by how much (Shed); a scan within that horizon is still found.
func TestMaxBytesShedsWithoutFiles(t *testing.T) {
	b := freshSources(100_000)
	for i := range 5 {
		b = append(b, syn(100_000_000+int64(i)*1000, "203.0.113.9", fmt.Sprintf("10.1.0.%d", i+1)))
	}
	cfg := DefaultConfig()
	cfg.MaxBytes = 1 << 20
	cfg.TempDir = filepath.Join(t.TempDir(), "missing")
	d, got := runTRW(cfg, b)
	h, n := d.Shed()
	if n == 0 || h <= 0 || h >= DefaultHorizon {
		t.Fatalf("shed %d times, shortest horizon %d ms: want shedding below a day", n, h)
	}
	if len(got) != 1 || got[0].Src != netip.MustParseAddr("203.0.113.9") {
		t.Fatalf("%d findings under the bound, want the scanner", len(got))
	}
	// Without the bound nothing is shed.
	d, _ = runTRW(DefaultConfig(), b)
	if _, n := d.Shed(); n != 0 {
		t.Fatalf("no bound: shed %d times", n)
	}
}

// freshSources is n answered contacts a second apart, each from a source
// of its own.
func freshSources(n int) flow.Batch {
	var b flow.Batch
	for i := range n {
		r := rec(int64(i)*1000, "0.0.0.0", "10.0.0.1", 6, flow.TCPSyn|flow.TCPAck)
		r.Src = flow.AddrFromU32(0x2d000000 + uint32(i))
		b = append(b, r)
	}
	return b
}
