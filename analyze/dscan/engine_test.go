package dscan

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"strings"
	"testing"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/internal/benchfix"
)

func rec(src, dst string, proto uint8, sp, dp uint16) flow.Record {
	return flow.Record{Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), Proto: proto, SrcPort: sp, DstPort: dp,
		Fields: flow.FSrcAddr | flow.FDstAddr}
}

func ip4(i int) string { return fmt.Sprintf("10.%d.%d.%d", (i>>16)&255, (i>>8)&255, i&255) }

// run feeds flows through an engine and returns its findings as strings.
func run(t testing.TB, cfg Config, flows []flow.Record) []string {
	_, out := runEngine(cfg, flows)
	return out
}

// runEngine is run, returning the engine too.
func runEngine(cfg Config, flows []flow.Record) (*Engine, []string) {
	var out []string
	e := New(cfg, func(ev Event) {
		f := ev.Finding
		out = append(out, fmt.Sprintf("%d %s %s %s", f.Index, f.Kind, f.Src, f.Dst))
	})
	for i := 0; i < len(flows); i += 1000 {
		e.Process(flows[i:min(i+1000, len(flows))])
	}
	e.Flush()
	return e, out
}

// sweep: one source to n destinations on port.
func sweep(src string, n int, port uint16) []flow.Record {
	var out []flow.Record
	for i := 1; i <= n; i++ {
		out = append(out, rec(src, ip4(i), 6, 40000, port))
	}
	return out
}

func list(t *testing.T, text, which string) *List {
	l, warns, err := ParseList(strings.NewReader(text), which, false)
	if err != nil || len(warns) > 0 {
		t.Fatalf("%v %v", err, warns)
	}
	return l
}

func TestDefaultSuppressHonoursProtoPortsAndCIDR(t *testing.T) {
	flows := sweep("192.0.2.1", 250, 22)
	cfg := DefaultConfig()
	// An entry for UDP/53 does not hide a TCP/22 sweep (0.68 would hide it).
	cfg.Suppress = &Suppress{Src: list(t, "192.0.2.1 17 - 53\n", "src")}
	if got := run(t, cfg, flows); len(got) != 1 {
		t.Fatalf("UDP/53 entry hid TCP/22 sweep: %v", got)
	}
	cfg.Suppress = &Suppress{Src: list(t, "192.0.2.0/24 6 - 22\n", "src")}
	if got := run(t, cfg, flows); len(got) != 0 {
		t.Fatalf("CIDR entry for TCP/22 did not suppress: %v", got)
	}
	cfg.Suppress = &Suppress{Src: list(t, "192.0.2.1 - 40000 -\n", "src")}
	if got := run(t, cfg, flows); len(got) != 0 {
		t.Fatalf("srcport entry did not suppress: %v", got)
	}
	// .dst entries are looked up by destination: a vertical scan of a
	// listed host is hidden whatever bucket its source hashes to.
	var vert []flow.Record
	for p := 1; p <= 100; p++ {
		vert = append(vert, rec("192.0.2.77", "10.20.1.10", 6, 51000, uint16(p)))
	}
	if got := run(t, DefaultConfig(), vert); len(got) != 1 || !strings.Contains(got[0], "port-scan") {
		t.Fatalf("vertical scan: %v", got)
	}
	cfg.Suppress = &Suppress{Dst: list(t, "10.20.1.10 - - -\n", "dst")}
	if got := run(t, cfg, vert); len(got) != 0 {
		t.Fatalf(".dst entry ignored: %v", got)
	}
}

func TestDefaultDepthAbove255(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Depth = 300
	got := run(t, cfg, sweep("192.0.2.1", 400, 22))
	if len(got) != 1 || !strings.HasPrefix(got[0], "301 host-scan") {
		t.Fatalf("-D 300: %v", got)
	}
	// compat: 8-bit depth never reaches 300.
	c := NewCompat(cfg, func(Event) { t.Fatal("compat reported with -D 300") })
	c.Process(sweep("192.0.2.1", 400, 22))
}

func TestDefaultExactAging(t *testing.T) {
	cfg := DefaultConfig()
	cfg.AgerTimeout = 50
	// A slow sweep: 210 destinations, 100 unrelated flows between each:
	// every destination has aged out before the next arrives.
	var flows []flow.Record
	for i := 1; i <= 210; i++ {
		flows = append(flows, rec("192.0.2.9", ip4(i), 6, 40000, 3389))
		for k := 0; k < 100; k++ {
			flows = append(flows, rec(ip4(1_000_000+i*100+k), "192.0.2.200", 17, 1000, 53))
		}
	}
	if got := run(t, cfg, flows); len(got) != 0 {
		t.Fatalf("aged destinations still counted: %v", got)
	}
	// With -t 10000, larger than the 210 x 41 flows of the sweep, nothing ages.
	cfg.AgerTimeout = 10000
	flows = flows[:0]
	for i := 1; i <= 210; i++ {
		flows = append(flows, rec("192.0.2.9", ip4(i), 6, 40000, 3389))
		for k := 0; k < 40; k++ {
			flows = append(flows, rec(ip4(1_000_000+i*100+k), "192.0.2.200", 17, 1000, 53))
		}
	}
	if got := run(t, cfg, flows); len(got) != 1 || !strings.Contains(got[0], "192.0.2.9") {
		t.Fatalf("slow sweep inside the timeout: %v", got)
	}
}

// A source that aged out leaves its struct to the next new source: that
// one starts from nothing. Here every aged source reported a host scan and
// held 200 destinations; each of the next sources is reported at exactly
// Depth destinations of its own, and a source that comes back after aging
// out is counted anew.
func TestDefaultRecycledSourcesStartEmpty(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Jobs = 1
	cfg.AgerTimeout = 1000
	var flows []flow.Record
	var want []string
	quiet := func() {
		for k := range 1001 {
			flows = append(flows, rec(ip4(2_000_000+k), "192.0.2.200", 17, 1000, 53))
		}
	}
	for round, src := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.1", "192.0.2.3"} {
		for i := 1; i <= cfg.Depth+1; i++ {
			flows = append(flows, rec(src, ip4(100_000*round+i), 6, 40000, 3389))
		}
		want = append(want, fmt.Sprintf("%d host-scan %s %s", len(flows), src, ip4(100_000*round+cfg.Depth+1)))
		quiet()
	}
	e, got := runEngine(cfg, flows)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	free := 0
	for _, p := range e.parts {
		for s := p.freeSrc; s != nil; s = s.next {
			free++
		}
	}
	if free == 0 {
		t.Fatalf("no aged source was kept for reuse")
	}
}

// A port scanner that then sweeps hosts is reported for both (0.68
// stops tracking a source once it reported it).
func TestDefaultKeepsTrackingReportedSources(t *testing.T) {
	var flows []flow.Record
	for p := 1; p <= 70; p++ {
		flows = append(flows, rec("192.0.2.5", "10.20.1.10", 6, 51000, uint16(p)))
	}
	flows = append(flows, sweep("192.0.2.5", 250, 23)...)
	got := run(t, DefaultConfig(), flows)
	if len(got) != 2 || !strings.Contains(got[0], "port-scan") || !strings.Contains(got[1], "host-scan") {
		t.Fatalf("got %v", got)
	}
	// A sweep of 600 hosts is one host-scan alert, not three.
	if got := run(t, DefaultConfig(), sweep("192.0.2.6", 600, 22)); len(got) != 1 {
		t.Fatalf("600-host sweep: %v", got)
	}
}

// randomFlows is a mix of scanners and ordinary traffic.
func randomFlows(n int, seed uint64) []flow.Record {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([]flow.Record, 0, n)
	for len(out) < n {
		switch r.IntN(10) {
		case 0: // scanners
			s := r.IntN(30)
			out = append(out, rec(fmt.Sprintf("192.0.2.%d", s), ip4(r.IntN(2000)), 6, 40000, uint16(1+r.IntN(1023))))
		default:
			out = append(out, rec(ip4(50000+r.IntN(30000)), ip4(r.IntN(300)), 6, uint16(1024+r.IntN(60000)), []uint16{80, 443, 53}[r.IntN(3)]))
		}
	}
	return out
}

func TestDefaultShardedIdentical(t *testing.T) {
	flows := randomFlows(300_000, 3)
	cfg := DefaultConfig()
	cfg.AgerTimeout = 60000
	cfg.Depth = 100
	one := run(t, cfg, flows)
	for _, j := range []int{2, 3, 16} {
		cfg.Jobs = j
		if got := run(t, cfg, flows); strings.Join(got, "\n") != strings.Join(one, "\n") {
			t.Fatalf("-j %d differs from -j 1 (%d vs %d findings)", j, len(got), len(one))
		}
	}
	if len(one) < 20 {
		t.Fatalf("too few findings to prove anything: %d", len(one))
	}
	cfg.MaxSources = 5000
	cfg.Jobs = 1
	lim1 := run(t, cfg, flows)
	cfg.Jobs = 2
	if got := run(t, cfg, flows); strings.Join(got, "\n") != strings.Join(lim1, "\n") {
		t.Fatal("--max-sources: -j 2 differs from -j 1")
	}
}

// Splitting a run in two with the state file in between gives the same
// findings as one run over the whole input.
func TestDefaultStateContinuesAcrossRuns(t *testing.T) {
	flows := randomFlows(200_000, 5)
	cfg := DefaultConfig()
	cfg.AgerTimeout = 30000
	cfg.Depth = 100
	whole := run(t, cfg, flows)

	var got []string
	sink := func(ev Event) {
		f := ev.Finding
		got = append(got, fmt.Sprintf("%d %s %s %s", f.Index, f.Kind, f.Src, f.Dst))
	}
	e1 := New(cfg, sink)
	e1.Process(flows[:123_457])
	var state bytes.Buffer
	if err := e1.SaveState(&state); err != nil {
		t.Fatal(err)
	}
	e2 := New(cfg, sink)
	if err := e2.LoadState(bytes.NewReader(state.Bytes()), "s"); err != nil {
		t.Fatal(err)
	}
	e2.Process(flows[123_457:])
	if strings.Join(got, "\n") != strings.Join(whole, "\n") {
		t.Fatalf("split run differs: %d vs %d findings", len(got), len(whole))
	}
	// Damage is an error naming the place, never a silent fresh start.
	b := state.Bytes()
	for name, bad := range map[string][]byte{
		"truncated": b[:len(b)/2],
		"flipped":   bytes.Replace(b, []byte("\nS "), []byte("\nX "), 1),
		"foreign":   []byte("H 5 1 0 161.45.161.40\n.\n"),
	} {
		err := New(cfg, nil).LoadState(bytes.NewReader(bad), "state")
		if err == nil || !strings.Contains(err.Error(), "state file state") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// --max-sources bounds memory: millions of sources with one destination
// each, and one source talking to millions of destinations.
func TestMaxSourcesBoundsMemory(t *testing.T) {
	n := 2_000_000
	if testing.Short() {
		n = 300_000
	}
	cfg := DefaultConfig()
	cfg.MaxSources = 10_000
	cfg.AgerTimeout = 0 // nothing ages: only the bound limits the table
	before := benchfix.HeapAlloc()
	e := New(cfg, nil)
	manySources(e, n)
	used := benchfix.HeapAlloc() - before
	if e.Sources() > cfg.MaxSources+nParts || e.Evicted() < uint64(n-cfg.MaxSources-nParts) {
		t.Fatalf("%d sources tracked, %d evicted", e.Sources(), e.Evicted())
	}
	// about 335 bytes per tracked source with its one destination
	if used > 20<<20 {
		t.Fatalf("%d sources capped at %d use %d MiB", n, cfg.MaxSources, used>>20)
	}
	runtime.KeepAlive(e)

	// One source to n destinations with no ager: once reported as a host
	// scanner its list is held at D destinations.
	batch := make(flow.Batch, 10_000)
	cfg = DefaultConfig()
	cfg.AgerTimeout = 0
	before = benchfix.HeapAlloc()
	e = New(cfg, nil)
	for i := 0; i < n; i += len(batch) {
		for k := range batch {
			batch[k] = flow.Record{Src: flow.AddrFromU32(0xC0000201), Dst: flow.AddrFromU32(0x0A000000 + uint32(i+k)), Proto: 6, DstPort: 80}
		}
		e.Process(batch)
	}
	used = benchfix.HeapAlloc() - before
	runtime.KeepAlive(batch)
	if used > 1<<20 {
		t.Fatalf("one source to %d destinations uses %d KiB with -t 0, want < 1 MiB (D = 200 destinations)", n, used>>10)
	}
	runtime.KeepAlive(e)
}

// --max-sources lowers the engine's memory against the same stream run
// without it (it once raised a whole run's peak): 200k sources of one
// flow each, nothing aging them out.
func TestMaxSourcesLowersMemory(t *testing.T) {
	const n = 200_000
	run := func(maxSources int) int64 {
		cfg := DefaultConfig()
		cfg.MaxSources = maxSources
		cfg.AgerTimeout = 0
		before := benchfix.HeapAlloc()
		e := New(cfg, nil)
		manySources(e, n)
		used := benchfix.HeapAlloc() - before
		runtime.KeepAlive(e)
		return used
	}
	without, with := run(0), run(10_000)
	if with*4 > without {
		t.Fatalf("200k sources: %d KiB with --max-sources 10000, %d KiB without: the cap should hold a fraction", with>>10, without>>10)
	}
	t.Logf("200k sources: %d KiB with --max-sources 10000, %d KiB without", with>>10, without>>10)
}

// manySources feeds e n flows, each from a new source to one web server.
func manySources(e *Engine, n int) {
	batch := make(flow.Batch, 10_000)
	for i := 0; i < n; i += len(batch) {
		for k := range batch {
			batch[k] = flow.Record{Src: flow.AddrFromU32(0x0A000000 + uint32(i+k)), Dst: flow.AddrFromU32(0xC0000201), Proto: 6, DstPort: 80}
		}
		e.Process(batch)
	}
}
