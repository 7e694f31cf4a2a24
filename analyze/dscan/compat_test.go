package dscan

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/flow"
)

// compatRun feeds flows in small batches.
func compatRun(c *Compat, flows []flow.Record) {
	for i := 0; i < len(flows); i += 7 { // odd batch size: batching must not matter
		c.Process(flows[i:min(i+7, len(flows))])
	}
}

// newCompatRec records events as strings ("N kind src dst" for findings,
// "N reset" for the ager's pass message, N = flows read when it happened).
func newCompatRec(t *testing.T, cfg Config) (*Compat, *[]string) {
	t.Helper()
	var out []string
	var c *Compat
	c = NewCompat(cfg, func(ev Event) {
		switch ev.Kind {
		case EvAgerReset:
			out = append(out, fmt.Sprintf("%d reset", c.Total()))
		default:
			f := ev.Finding
			out = append(out, fmt.Sprintf("%d %s %s %s", f.Index, f.Kind, f.Src, f.Dst))
		}
	})
	return c, &out
}

// Depth is 8 bits in 0.68: -D 255 fires on the 256th destination, -D 256
// never fires however many destinations a source sweeps.
func TestCompatDepthWraps(t *testing.T) {
	flows := sweep("192.0.2.1", 700, 22)
	for _, tc := range []struct {
		depth int
		want  []string
	}{
		{255, []string{"256 host-scan 192.0.2.1 10.0.1.0"}},
		{256, nil},
	} {
		cfg := DefaultConfig()
		cfg.Depth = tc.depth
		cfg.AgerTimeout = 0
		c, out := newCompatRec(t, cfg)
		compatRun(c, flows)
		got := strings.Join(*out, "\n")
		if got != strings.Join(tc.want, "\n") {
			t.Errorf("-D %d: got %q want %q", tc.depth, *out, tc.want)
		}
	}
}

// The ager's work budget: with an otherwise empty table each bucket costs 1,
// a step stops once work exceeds 500, i.e. after walking 501 buckets, and
// the next step walks the bucket it stopped in again, so each step advances
// 500 buckets. A pass over 65536 buckets completes on the 132nd step (the
// one starting at bucket 65500); without the re-walk it would be the 131st.
// Steps run only on thousand-marks reached by a flow that adds a
// destination.
func TestCompatAgerBudgetAndReach(t *testing.T) {
	const src = "0.0.255.255" // bucket 65535: walked last, costs little
	mk := func(n int, addAtMarks bool) []flow.Record {
		var flows []flow.Record
		dst := 0
		for i := 1; i <= n; i++ {
			if i == 1 || (addAtMarks && i%1000 == 0) {
				dst++
			}
			flows = append(flows, rec(src, ip4(dst), 6, 40000, 2000))
		}
		return flows
	}
	cfg := DefaultConfig()
	cfg.AgerTimeout = 1 << 31 // nothing expires
	c, out := newCompatRec(t, cfg)
	compatRun(c, mk(140000, true))
	if len(*out) != 1 || (*out)[0] != "132000 reset" {
		t.Fatalf("ager passes: got %v, want [132000 reset]", *out)
	}

	// The same flows with thousand-marks that only refresh a known
	// destination never reach the ager.
	c, out = newCompatRec(t, cfg)
	compatRun(c, mk(140000, false))
	if len(*out) != 0 {
		t.Fatalf("ager ran on flows that added nothing: %v", *out)
	}
}

// Aging compares total32 - seen (unsigned) with the timeout using ">", and
// a record whose list empties is deleted (a reported host scanner becomes
// reportable again only then).
func TestCompatAgerExpiresAndForgetsScanner(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Depth = 3
	cfg.AgerTimeout = 10
	c, out := newCompatRec(t, cfg)
	const scanner = "0.0.255.255"
	var flows []flow.Record
	flows = append(flows, sweep(scanner, 4, 22)...) // host scan on flow 4
	// Filler: a new source at every thousand-mark, so that flow creates a
	// record and reaches the ager; the other flows add nothing.
	for i := 5; i <= 139996; i++ {
		flows = append(flows, rec(ip4(i/1000+1), "192.0.2.9", 6, 40000, 2000))
	}
	flows = append(flows, sweep(scanner, 4, 22)...)
	compatRun(c, flows)
	var scans []string
	for _, s := range *out {
		if strings.Contains(s, "host-scan") {
			scans = append(scans, s)
		}
	}
	if len(scans) != 2 || !strings.HasPrefix(scans[0], "4 ") || !strings.HasPrefix(scans[1], "140000 ") {
		t.Fatalf("want the scanner reported at flows 4 and 140000 (after the ager deleted it), got %v", scans)
	}
}

// Loading puts each record at the head of the bucket named in the file, so
// a bucket's chain comes back reversed; seen values are kept as written.
func TestCompatStateLoadOrder(t *testing.T) {
	a, b := "10.0.0.11", "10.11.0.0" // 0x0A00^0x000B == 0x0A0B^0x0000
	if Bucket(flow.AddrU32(rec(a, a, 0, 0, 0).Src)) != Bucket(flow.AddrU32(rec(b, b, 0, 0, 0).Src)) {
		t.Fatal("test addresses must share a bucket")
	}
	cfg := DefaultConfig()
	c, _ := newCompatRec(t, cfg)
	compatRun(c, []flow.Record{
		rec(a, "192.0.2.1", 6, 40000, 22),
		rec(b, "192.0.2.2", 6, 40000, 80),
		rec(a, "192.0.2.3", 6, 40000, 2000),
	})
	var first bytes.Buffer
	if err := c.SaveState(&first); err != nil {
		t.Fatal(err)
	}
	bkt := Bucket(flow.AddrU32(rec(a, a, 0, 0, 0).Src))
	want1 := fmt.Sprintf("H %d 1 0 10.11.0.0\nI  2 192.0.2.2\nP 1 80\nH %d 2 0 10.0.0.11\nI  1 192.0.2.1\nP 1 22\nI  3 192.0.2.3\n.\n", bkt, bkt)
	if first.String() != want1 {
		t.Fatalf("first dump:\n%s\nwant:\n%s", first.String(), want1)
	}
	c2, _ := newCompatRec(t, cfg)
	if err := c2.LoadState(strings.NewReader(first.String()), "s"); err != nil {
		t.Fatal(err)
	}
	if c2.Total() != 0 {
		t.Fatalf("total after load = %d, want 0 (a new run counts from 0)", c2.Total())
	}
	var second bytes.Buffer
	c2.SaveState(&second)
	want2 := fmt.Sprintf("H %d 2 0 10.0.0.11\nI  1 192.0.2.1\nP 1 22\nI  3 192.0.2.3\nH %d 1 0 10.11.0.0\nI  2 192.0.2.2\nP 1 80\n.\n", bkt, bkt)
	if second.String() != want2 {
		t.Fatalf("dump after load:\n%s\nwant (chain reversed, seen kept):\n%s", second.String(), want2)
	}
	for _, bad := range []string{"H 1 2 0 10.0.0.1\nI  x 1.2.3.4\n.\n", "H 1 1 0 10.0.0.1\nI  1 1.2.3.4\n"} {
		if err := NewCompat(cfg, nil).LoadState(strings.NewReader(bad), "s"); err == nil || !strings.Contains(err.Error(), "line") {
			t.Errorf("bad state %q: err %v, want an error naming the line", bad, err)
		}
	}
}

// 0.68's suppress lists ignore protocol and ports (all traffic of the
// address is suppressed) and look .dst entries up in the source's bucket.
func TestCompatSuppressQuirks(t *testing.T) {
	flows := sweep("192.0.2.1", 250, 22)
	cfg := DefaultConfig()
	cfg.Suppress = &Suppress{Src: mustList(t, "192.0.2.1 17 - 53\n", "src", true)}
	c, out := newCompatRec(t, cfg)
	compatRun(c, flows)
	if len(*out) != 0 {
		t.Fatalf("compat: a UDP/53 entry must hide all traffic of the source, got %v", *out)
	}
	// A .dst entry for a destination in another bucket than the source
	// does nothing: the port scan is still reported.
	var ps []flow.Record
	for p := 1; p <= 70; p++ {
		ps = append(ps, rec("192.0.2.1", "198.51.100.7", 6, 40000, uint16(p)))
	}
	cfg.Suppress = &Suppress{Dst: mustList(t, "198.51.100.7\n", "dst", true)}
	c, out = newCompatRec(t, cfg)
	compatRun(c, ps)
	if len(*out) != 1 || !strings.Contains((*out)[0], string(analyze.PortScan)) {
		t.Fatalf("compat: .dst entry outside the source's bucket must not suppress, got %v", *out)
	}
}

func mustList(t *testing.T, text, which string, compat bool) *List {
	t.Helper()
	l, _, err := ParseList(strings.NewReader(text), which, compat)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// seen values are 32-bit and compared as total32 - seen, unsigned: a seen
// loaded from a long previous run (near 2^32) is "recent" for a new run
// that counts from 0, until the wrapped difference exceeds the timeout.
func TestCompatSeenWraps32(t *testing.T) {
	const state = "H 65535 1 0 0.0.255.255\nI  4294967000 192.0.2.1\n.\n"
	var flows []flow.Record
	dst := 0
	for i := 1; i <= 140000; i++ { // another source adds a destination at each thousand-mark
		if i == 1 || i%1000 == 0 {
			dst++
		}
		flows = append(flows, rec("0.0.255.254", ip4(dst), 6, 40000, 2000))
	}
	for _, tc := range []struct {
		timeout uint64
		kept    bool
	}{{200000, true}, {100000, false}} {
		cfg := DefaultConfig()
		cfg.AgerTimeout = tc.timeout
		c, out := newCompatRec(t, cfg)
		if err := c.LoadState(strings.NewReader(state), "s"); err != nil {
			t.Fatal(err)
		}
		compatRun(c, flows)
		if len(*out) != 1 || (*out)[0] != "132000 reset" {
			t.Fatalf("-t %d: ager passes %v, want one at 132000", tc.timeout, *out)
		}
		var buf bytes.Buffer
		c.SaveState(&buf)
		// at the pass, total32 - seen = 132000 + 296 (wrapped)
		if got := strings.Contains(buf.String(), "0.0.255.255"); got != tc.kept {
			t.Errorf("-t %d: loaded record kept = %v, want %v:\n%.200s", tc.timeout, got, tc.kept, buf.String())
		}
	}
}
