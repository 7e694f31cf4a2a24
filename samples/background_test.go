package samples

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/flowsift/flowsift/flow"
)

// Background sources are as many as asked, each new (the ordinary
// traffic's hosts share its blocks, so they are told apart by a run
// without background: the same seed makes the same hosts), each sending exactly
// BackgroundFlows unanswered SYNs to local addresses; the total stays
// Flows and the truth records the count.
func TestBackgroundSources(t *testing.T) {
	const n = 5000
	base, _, err := Generate(Config{Seed: 3, Flows: 40000, Hours: 2}.Defaults())
	if err != nil {
		t.Fatal(err)
	}
	ordinary := map[netip.Addr]bool{}
	for _, r := range base {
		ordinary[r.Src], ordinary[r.Dst] = true, true
	}
	recs, truth, err := Generate(Config{Seed: 3, Flows: 40000, Hours: 2, BackgroundSources: n}.Defaults())
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 40000 || truth.BackgroundSources != n {
		t.Fatalf("%d flows, truth says %d background sources; want 40000 and %d", len(recs), truth.BackgroundSources, n)
	}
	sent := map[netip.Addr]int{}
	answered := map[netip.Addr]bool{}
	for _, r := range recs {
		if bgBlock(r.Src) && !ordinary[r.Src] {
			sent[r.Src]++
			if !isLocal(r.Dst) || r.Proto != 6 || r.TCPFlags != flow.TCPSyn {
				t.Fatalf("background flow %v -> %v proto %d flags %#x: want a SYN to the site", r.Src, r.Dst, r.Proto, r.TCPFlags)
			}
		}
		if bgBlock(r.Dst) && !ordinary[r.Dst] {
			answered[r.Dst] = true
		}
	}
	if len(sent) != n {
		t.Fatalf("%d background sources, want %d", len(sent), n)
	}
	for s, k := range sent {
		if k != BackgroundFlows || answered[s] {
			t.Fatalf("%v: %d flows, answered %v", s, k, answered[s])
		}
	}
	if _, _, err := Generate(Config{Seed: 3, Flows: 20000, BackgroundSources: 7000}.Defaults()); err == nil ||
		!strings.Contains(err.Error(), "background sources need") {
		t.Fatalf("21,000 background flows in 20,000: err %v", err)
	}
}

func bgBlock(a netip.Addr) bool {
	if !a.Is4() {
		return false
	}
	for _, b := range bgBlocks {
		if a.As4()[0] == b {
			return true
		}
	}
	return false
}
