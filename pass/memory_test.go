package pass_test

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"reflect"
	"runtime/debug"
	"testing"
	"time"

	"github.com/flowsift/flowsift/pass"
)

// A budget so small that the top talkers spill after every batch gives
// the very documents of a run without a budget, and leaves no file in the
// spill directory. (TRW, vscan and the roles are given room of their own:
// under a budget they forget early, which TestMemoryBudgetTRW checks.)
func TestMemoryBudgetSameReport(t *testing.T) {
	cfg := sampleConfig(t)
	cfg.Memory = 0
	want, err := pass.RunReport(context.Background(), cfg, pass.Inputs{Paths: []string{sampleArchive}})
	if err != nil {
		t.Fatal(err)
	}
	if want.TalkerSpills != 0 {
		t.Fatalf("no budget: %d spills", want.TalkerSpills)
	}
	cfg.Memory, cfg.TempDir, cfg.TRW.MaxBytes = 4, t.TempDir(), 1<<40
	cfg.VScan.MaxPairs, cfg.Roles.MaxHosts = 1<<30, 1<<30
	limit := debug.SetMemoryLimit(-1)
	got, err := pass.RunReport(context.Background(), cfg, pass.Inputs{Paths: []string{sampleArchive}})
	if err != nil {
		t.Fatal(err)
	}
	if l := debug.SetMemoryLimit(-1); l != limit {
		t.Fatalf("the Go memory limit is %d after the report, %d before", l, limit)
	}
	if got.TalkerSpills < 2 {
		t.Fatalf("budget of 4 bytes: %d spills, want several", got.TalkerSpills)
	}
	w, g := rendered(t, want), rendered(t, got)
	if len(w) != len(g) {
		t.Fatalf("%d documents with a budget, %d without", len(g), len(w))
	}
	for name, b := range w {
		if !bytes.Equal(g[name], b) {
			t.Errorf("%s differs with a budget that spills", name)
		}
	}
	if ents, _ := os.ReadDir(cfg.TempDir); len(ents) != 0 {
		t.Errorf("%d files left in the spill directory", len(ents))
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1GiB": 1 << 30, "512M": 512 << 20, "512mb": 512 << 20, "1073741824": 1 << 30,
		"0": 0, "1.5G": 3 << 29, "64k": 64 << 10, " 2 GiB ": 2 << 30, "1T": 1 << 40} {
		got, err := pass.ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
		if want > 0 {
			if back, _ := pass.ParseSize(pass.FormatSize(want)); back != want {
				t.Errorf("FormatSize(%d) = %q reads back as %d", want, pass.FormatSize(want), back)
			}
		}
	}
	for _, in := range []string{"", "G", "-1G", "lots", "1X", "1e30"} {
		if _, err := pass.ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q): no error", in)
		}
	}
}

func TestValidateMemory(t *testing.T) {
	c := pass.DefaultConfiguration()
	if c.Memory != pass.DefaultMemory {
		t.Fatalf("default memory %d, want %d", c.Memory, pass.DefaultMemory)
	}
	c.Memory = -1
	if err := c.Validate(); err == nil {
		t.Fatal("--memory -1 accepted")
	}
}

// Under a budget whose twelfth TRW's state outgrows on the sample archive
// (4 MiB: it moves state to temporary files three times and finds
// thousands of pairs and sources there again), the episodes are those of
// a run without a budget, and TRW shortened no horizon. vscan's and the
// roles' bounds are set, as a policy would, so that only TRW is tested.
func TestMemoryBudgetTRWExact(t *testing.T) {
	cfg := sampleConfig(t)
	cfg.Memory = 0
	cfg.VScan.MaxPairs, cfg.Roles.MaxHosts = 1<<20, 1<<20
	want, err := pass.RunReport(context.Background(), cfg, pass.Inputs{Paths: []string{sampleArchive}})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Memory, cfg.TempDir = 4<<20, t.TempDir()
	got, err := pass.RunReport(context.Background(), cfg, pass.Inputs{Paths: []string{sampleArchive}})
	if err != nil {
		t.Fatal(err)
	}
	if got.TRWShed != 0 {
		t.Fatalf("TRW shed to %v under 4 MiB: want its state moved to disk, no horizon shortened", got.TRWShed)
	}
	if len(want.Episodes.Episodes) == 0 || !reflect.DeepEqual(got.Episodes, want.Episodes) {
		t.Fatalf("episodes under 4 MiB (%d) differ from those without a budget (%d)", len(got.Episodes.Episodes), len(want.Episodes.Episodes))
	}
	if ents, _ := os.ReadDir(cfg.TempDir); len(ents) != 0 {
		t.Errorf("%d files left in the temporary directory", len(ents))
	}
}

// Under a budget far too small (4 bytes: even TRW's filters outgrow its
// share), TRW forgets early and says so, the talkers' tables stay exact,
// and the fast sweep of the samples is still found.
func TestMemoryBudgetTRW(t *testing.T) {
	cfg := sampleConfig(t)
	cfg.Memory = 0
	want, err := pass.RunReport(context.Background(), cfg, pass.Inputs{Paths: []string{sampleArchive}})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Memory, cfg.TempDir = 4, t.TempDir()
	got, err := pass.RunReport(context.Background(), cfg, pass.Inputs{Paths: []string{sampleArchive}})
	if err != nil {
		t.Fatal(err)
	}
	if got.TRWShed <= 0 || got.TRWShed >= 24*time.Hour || want.TRWShed != 0 {
		t.Fatalf("TRW shed to %v with a 4-byte budget, %v without: want a short horizon, then none", got.TRWShed, want.TRWShed)
	}
	if !reflect.DeepEqual(got.Tables, want.Tables) {
		t.Fatal("top talkers differ under the budget")
	}
	found := false
	for _, e := range got.Episodes.Episodes {
		found = found || e.Src == netip.MustParseAddr("203.0.113.45")
	}
	if !found {
		t.Fatal("the fast sweep 203.0.113.45 is not in the episodes under the budget")
	}
}

// The batch size is a matter of cost: batches of one flow, of an odd
// size, of dscan's size and of the report's default give the very same
// documents (the sample archive's 50,000 flows are one batch by default,
// four of dscan's).
func TestBatchSizeSameReport(t *testing.T) {
	cfg := sampleConfig(t)
	want, err := pass.RunReport(context.Background(), cfg, pass.Inputs{Paths: []string{sampleArchive}})
	if err != nil {
		t.Fatal(err)
	}
	w := rendered(t, want)
	for _, n := range []int{1, 4099, pass.BatchSize} {
		cfg.BatchFlows = n
		got, err := pass.RunReport(context.Background(), cfg, pass.Inputs{Paths: []string{sampleArchive}})
		if err != nil {
			t.Fatal(err)
		}
		if got.Summary.Flows != want.Summary.Flows {
			t.Fatalf("batches of %d: %d flows, want %d", n, got.Summary.Flows, want.Summary.Flows)
		}
		for name, b := range rendered(t, got) {
			if !bytes.Equal(b, w[name]) {
				t.Errorf("batches of %d: %s differs from the default's", n, name)
			}
		}
	}
}
