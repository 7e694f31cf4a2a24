package trw

import (
	"fmt"
	"math"
	"net/netip"
	"testing"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/flow"
)

// Hand-worked with the defaults θ0 = 0.8, θ1 = 0.2, α = 0.01, β = 0.99:
//
//	η1 = β/α = 0.99/0.01 = 99; η0 = (1-β)/(1-α) = 0.01/0.99 = 0.010101...
//	failure: × (1-θ1)/(1-θ0) = 0.8/0.2 = 4; success: × θ1/θ0 = 0.2/0.8 = 0.25
//
// Scanner F F S F F F: 4, 16, 4, 16, 64, 256 -> 256 >= 99 at attempt 6.
// Four failures in a row: 4, 16, 64, 256 -> scanner at attempt 4.
// Benign S S S S: 0.25, 0.0625, 0.015625, 0.00390625 -> <= 0.0101 at attempt 4.
// Mixed S F S S S: 0.25, 1, 0.25, 0.0625, 0.015625 -> still pending at 5
// (0.015625 > 0.0101), then S: 0.00390625 -> benign at attempt 6.
func TestHandWorked(t *testing.T) {
	c := DefaultConfig()
	if c.Eta1() != 99 || math.Abs(c.Eta0()-1.0/99) > 1e-15 {
		t.Fatalf("eta1 %v eta0 %v", c.Eta1(), c.Eta0())
	}
	for _, tc := range []struct {
		name   string
		steps  string
		lrs    []float64
		decide Decision
	}{
		{"scanner with a success", "FFSFFF", []float64{4, 16, 4, 16, 64, 256}, Scanner},
		{"four failures", "FFFF", []float64{4, 16, 64, 256}, Scanner},
		{"benign", "SSSS", []float64{0.25, 0.0625, 0.015625, 0.00390625}, Benign},
		{"mixed benign", "SFSSSS", []float64{0.25, 1, 0.25, 0.0625, 0.015625, 0.00390625}, Benign},
	} {
		var w Walk
		for i, s := range tc.steps {
			d := c.Step(&w, s == 'S')
			if math.Abs(w.LR-tc.lrs[i]) > 1e-12 {
				t.Fatalf("%s step %d: LR %v want %v", tc.name, i+1, w.LR, tc.lrs[i])
			}
			want := Pending
			if i == len(tc.steps)-1 {
				want = tc.decide
			}
			if d != want {
				t.Fatalf("%s step %d: decision %v want %v", tc.name, i+1, d, want)
			}
		}
		if w.Attempts != len(tc.steps) {
			t.Fatalf("%s: attempts %d", tc.name, w.Attempts)
		}
	}
}

func rec(start int64, src, dst string, proto uint8, flags uint8) flow.Record {
	return flow.Record{Start: start, End: start, Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst),
		Proto: proto, TCPFlags: flags, Packets: 1, SrcPort: 40000, DstPort: 22}
}

// The flow rule: unanswered SYNs fail once the window passes; a SYN-ACK
// answer or an ACK-bearing flow succeeds; a RST answer fails; repeated
// contacts with one destination count once.
func TestFlowsDecide(t *testing.T) {
	var got []analyze.Finding
	d := New(DefaultConfig(), func(f analyze.Finding) { got = append(got, f) })
	var b flow.Batch
	// Scanner 2001:db8::1 (IPv6): targets 1,2 unanswered, 3 answered by RST,
	// 4 answered by SYN-ACK, 5,6,7 unanswered, 1 again (not a first contact).
	src := "2001:db8::1"
	b = append(b, rec(0, src, "2001:db8:1::1", 6, flow.TCPSyn), rec(100, src, "2001:db8:1::2", 6, flow.TCPSyn),
		rec(200, src, "2001:db8:1::3", 6, flow.TCPSyn), rec(210, "2001:db8:1::3", src, 6, flow.TCPRst|flow.TCPAck),
		rec(300, src, "2001:db8:1::4", 6, flow.TCPSyn), rec(310, "2001:db8:1::4", src, 6, flow.TCPSyn|flow.TCPAck),
		rec(400, src, "2001:db8:1::5", 6, flow.TCPSyn), rec(500, src, "2001:db8:1::6", 6, flow.TCPSyn),
		rec(600, src, "2001:db8:1::1", 6, flow.TCPSyn), rec(700, src, "2001:db8:1::7", 6, flow.TCPSyn))
	// A benign IPv4 client: four completed connections.
	for i, dst := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"} {
		b = append(b, rec(int64(1000+i), "10.0.0.5", dst, 6, flow.TCPSyn|flow.TCPAck|flow.TCPFin))
	}
	// The reverse of the SYN-ACK target arrived before the contact: a UDP
	// reply seen first still answers.
	b = append(b, rec(2000, "10.0.0.9", "10.0.0.8", 17, 0), rec(2005, "10.0.0.8", "10.0.0.9", 17, 0))
	d.Add(b)
	if len(got) != 0 {
		t.Fatalf("decided before the window passed: %+v", got)
	}
	d.Add(flow.Batch{rec(30000, "10.9.9.9", "10.9.9.8", 6, flow.TCPSyn|flow.TCPAck)})
	// Outcomes of the scanner in resolution order: S (target 4, at once),
	// then at expiry F F F(RST) F F F -> LR 0.25*4^5 = 256 at attempt 6.
	if len(got) != 1 || got[0].Src.String() != src || got[0].Attempts != 6 || math.Abs(got[0].Score-256) > 1e-9 {
		t.Fatalf("findings %+v", got)
	}
	if got[0].Detector != "trw" || got[0].Kind != analyze.TRWScan || got[0].Threshold != 99 {
		t.Fatalf("finding fields %+v", got[0])
	}
	if d.Pending() != 0 {
		t.Fatalf("pending %d after the window", d.Pending())
	}
}

func TestPendingBounded(t *testing.T) {
	c := DefaultConfig()
	c.MaxPending = 10
	n := 0
	d := New(c, func(analyze.Finding) { n++ })
	var b flow.Batch
	for i := 0; i < 100; i++ {
		b = append(b, rec(int64(i), "10.0.0.1", netip.AddrFrom4([4]byte{10, 1, 0, byte(i)}).String(), 6, flow.TCPSyn))
	}
	d.Add(b)
	if d.Pending() > 10 || n != 1 {
		t.Fatalf("pending %d findings %d", d.Pending(), n)
	}
}

// An answer to a peer that spoke first is a success by default and
// ignored with InitiatedOnly.
func TestReplies(t *testing.T) {
	var b flow.Batch
	src := "192.0.2.50"
	// Four peers open connections to src, src answers them, then src
	// sends four unanswered SYNs.
	for i := 0; i < 4; i++ {
		peer := netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}).String()
		b = append(b, rec(int64(i), peer, src, 6, flow.TCPSyn|flow.TCPAck), rec(int64(i)+1, src, peer, 6, flow.TCPSyn|flow.TCPAck))
	}
	for i := 0; i < 4; i++ {
		b = append(b, rec(int64(100+i), src, netip.AddrFrom4([4]byte{10, 1, 0, byte(i + 1)}).String(), 6, flow.TCPSyn))
	}
	b = append(b, rec(60000, "10.9.9.9", "10.9.9.8", 6, flow.TCPSyn|flow.TCPAck))
	for _, only := range []bool{false, true} {
		c := DefaultConfig()
		c.InitiatedOnly = only
		var got []analyze.Finding
		d := New(c, func(f analyze.Finding) { got = append(got, f) })
		d.Add(b)
		// Default: S S S S reaches η0 (benign, walk restarts), then F F F F
		// reaches 256 at attempt 4 of the new walk. InitiatedOnly: the
		// answers are ignored and F F F F decides at attempt 4 too, but
		// the 4 answers must not appear in the first-contact count.
		if len(got) != 1 || got[0].Attempts != 4 {
			t.Fatalf("initiated only %v: %+v", only, got)
		}
		want := "8 first contacts"
		if only {
			want = "4 first contacts"
		}
		if got[0].Note != want {
			t.Fatalf("initiated only %v: note %q", only, got[0].Note)
		}
	}
}

// A flow from a host to itself is a first contact like any other (its
// reverse is itself, which must not count as an earlier reply): it waits
// for an answer, and a repeat is not a new contact.
func TestSelfFlowIsAContact(t *testing.T) {
	d := New(DefaultConfig(), func(analyze.Finding) {})
	d.Add(flow.Batch{rec(0, "10.0.0.1", "10.0.0.1", 6, flow.TCPSyn), rec(10, "10.0.0.1", "10.0.0.1", 6, flow.TCPSyn)})
	if d.Pending() != 1 {
		t.Fatalf("pending %d, want the self contact waiting once", d.Pending())
	}
}

// A repeated flow of a pending contact (a retransmitted SYN, a long flow
// cut into records) must not hide the contact from the answer that
// follows, in IPv4 and in IPv6. Three answered contacts are S S S (LR
// 1/64, still undecided), so four unanswered ones after reach only
// 1/64 * 256 = 4; counted as failures, the seven would decide "scanner".
func TestRepeatKeepsContactPending(t *testing.T) {
	for _, fam := range []struct{ src, dst string }{{"10.0.0.1", "10.1.0.%d"}, {"2001:db8::1", "2001:db8:1::%d"}} {
		var got []analyze.Finding
		d := New(DefaultConfig(), func(f analyze.Finding) { got = append(got, f) })
		var b flow.Batch
		for i := 1; i <= 3; i++ {
			dst := fmt.Sprintf(fam.dst, i)
			t0 := int64(i * 100)
			b = append(b, rec(t0, fam.src, dst, 6, flow.TCPSyn), rec(t0+10, fam.src, dst, 6, flow.TCPSyn),
				rec(t0+20, dst, fam.src, 6, flow.TCPSyn|flow.TCPAck))
		}
		for i := 4; i <= 7; i++ {
			b = append(b, rec(int64(i*100), fam.src, fmt.Sprintf(fam.dst, i), 6, flow.TCPSyn))
		}
		d.Add(b)
		d.Flush()
		if len(got) != 0 {
			t.Fatalf("%s: answered contacts counted as failures: %+v", fam.src, got[0].Note)
		}
	}
}
