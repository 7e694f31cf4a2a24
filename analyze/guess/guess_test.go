package guess

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/flow"
)

func conn(start, ms int64, src, dst string, sport, dport uint16, packets uint64) flow.Record {
	return flow.Record{Start: start, End: start + ms, Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst),
		SrcPort: sport, DstPort: dport, Proto: 6, TCPFlags: flow.TCPSyn | flow.TCPAck | flow.TCPPsh | flow.TCPFin,
		Packets: packets, Octets: packets * 150}
}

func run(cfg Config, recs []flow.Record) []analyze.Finding {
	var out []analyze.Finding
	d := New(cfg, func(f analyze.Finding) { out = append(out, f) })
	d.Add(recs)
	return out
}

// guesses is a tool like hydra or sshpass in a loop: n logins of 20-23
// packets, one every 1.5 s, each from a new client port.
func guesses(src, dst string, port uint16, n int, t0 int64) []flow.Record {
	var recs []flow.Record
	for i := range n {
		recs = append(recs, conn(t0+int64(i)*1500, 900, src, dst, uint16(40000+i), port, uint64(20+i%4)))
	}
	return recs
}

func TestGuessingThenCompromise(t *testing.T) {
	recs := guesses("10.77.7.77", "10.77.8.10", 22, 120, 0)
	// The same source logs in and stays 50 s moving data.
	recs = append(recs, conn(200_000, 50_000, "10.77.7.77", "10.77.8.10", 41000, 22, 900))
	got := run(DefaultConfig(), recs)
	if len(got) != 2 {
		t.Fatalf("%d findings, want 2: %+v", len(got), got)
	}
	g, c := got[0], got[1]
	if g.Kind != Guessing || g.Src.String() != "10.77.7.77" || g.Dst.String() != "10.77.8.10" || g.Value != 30 || g.Threshold != 30 || g.Index != 30 {
		t.Fatalf("guessing finding %+v", g)
	}
	// 30 attempts of 30 needed for full weight: confidence 1 × 30/60.
	if g.Score != 0.5 || !strings.Contains(g.Note, "30 short ssh logins to 10.77.8.10:22") {
		t.Fatalf("score %v note %q", g.Score, g.Note)
	}
	if c.Kind != Compromise || c.Attempts != 120 || c.Score != 0.5 || c.Index != 121 ||
		!strings.Contains(c.Note, "possible compromise") {
		t.Fatalf("compromise finding %+v", c)
	}
}

func TestNotGuessing(t *testing.T) {
	var recs []flow.Record
	// A monitoring host connects to port 22 every 30 s and hangs up:
	// 4 packets each, no login.
	for i := range 200 {
		recs = append(recs, conn(int64(i)*30_000, 5, "10.0.0.32", "10.0.0.10", uint16(30000+i), 22, 4))
	}
	// A person's 40 SSH sessions of very different sizes.
	for i := range 40 {
		recs = append(recs, conn(int64(i)*20_000, 10_000, "10.0.0.27", "10.0.0.10", uint16(50000+i), 22, uint64(6<<(i%5))))
	}
	// 29 guesses: one below the threshold.
	recs = append(recs, guesses("10.0.0.66", "10.0.0.10", 3389, 29, 0)...)
	// 40 guesses, but split by a quiet hour into 20 + 20.
	recs = append(recs, guesses("10.0.0.67", "10.0.0.10", 21, 20, 0)...)
	recs = append(recs, guesses("10.0.0.67", "10.0.0.10", 21, 20, 3_700_000)...)
	// A monitoring system's SSH check (connect, banner, version string,
	// close: 7 packets) every 30 s for a day, and one every 5 min on RDP:
	// 30 similar connections within 30 min, but at a fixed period.
	for i := range 2880 {
		recs = append(recs, conn(int64(i)*30_000+int64(i%3)*200, 40, "10.0.0.33", "10.0.0.10", uint16(20000+i%40000), 22, 7))
	}
	for i := range 288 {
		recs = append(recs, conn(int64(i)*300_000, 300, "10.0.0.33", "10.0.0.11", uint16(30000+i), 3389, 25))
	}
	// Not an authentication port.
	recs = append(recs, guesses("10.0.0.68", "10.0.0.10", 8080, 60, 0)...)
	slicesSortByEnd(recs)
	if got := run(DefaultConfig(), recs); len(got) != 0 {
		t.Fatalf("findings %+v", got)
	}
}

func TestIPv6Guessing(t *testing.T) {
	got := run(DefaultConfig(), guesses("2001:db8::66", "2001:db8:1::10", 3306, 70, 0))
	if len(got) != 1 || got[0].Kind != Guessing || got[0].Src.String() != "2001:db8::66" ||
		!strings.Contains(got[0].Note, "mysql") {
		t.Fatalf("findings %+v", got)
	}
}

func slicesSortByEnd(r []flow.Record) {
	slices.SortStableFunc(r, func(a, b flow.Record) int { return cmp.Compare(a.End, b.End) })
}

func TestValidate(t *testing.T) {
	if err := (Config{MinSimilar: 1.5}).Validate(); err == nil {
		t.Fatal("share above 1 accepted")
	}
	if err := (Config{}).Validate(); err != nil {
		t.Fatal(err)
	}
}
