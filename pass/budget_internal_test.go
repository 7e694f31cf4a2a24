package pass

import (
	"testing"

	"github.com/flowsift/flowsift/analyze/roles"
	"github.com/flowsift/flowsift/analyze/vscan"
)

// The budget bounds vscan's pairs and the roles' hosts by their shares,
// never above what a run without a budget follows (the packages'
// defaults): at the default 1 GiB the roles follow as many hosts as
// without one, so that their presses, and the roles, are the same;
// without a budget, or with a bound of the policy's, the configuration
// stands.
func TestBudgetBoundsVScanAndRoles(t *testing.T) {
	cfg := DefaultConfiguration()
	cfg.Memory = 1 << 30
	got := budgeted(cfg)
	if want := int(int64(1<<30) / vscanShare / vscan.PairBytes); got.VScan.MaxPairs != want || want >= vscan.DefaultConfig().MaxPairs {
		t.Errorf("vscan max pairs %d, want %d (below the default)", got.VScan.MaxPairs, want)
	}
	if want := roles.DefaultConfig().MaxHosts; got.Roles.MaxHosts != want {
		t.Errorf("roles max hosts %d, want the default %d", got.Roles.MaxHosts, want)
	}
	if got.TRW.TempDir != cfg.TempDir {
		t.Errorf("trw temporary files in %q, want %q", got.TRW.TempDir, cfg.TempDir)
	}
	small := cfg
	small.Memory = 256 << 20
	if got, want := budgeted(small).Roles.MaxHosts, int(int64(256<<20)/rolesShare/roles.HostBytes); got != want {
		t.Errorf("256 MiB: roles max hosts %d, want %d", got, want)
	}
	big := cfg
	big.Memory = 64 << 30
	if got := budgeted(big); got.Roles.MaxHosts != roles.DefaultConfig().MaxHosts || got.VScan.MaxPairs != vscan.DefaultConfig().MaxPairs {
		t.Errorf("64 GiB: %d hosts, %d pairs; want the defaults, a budget never raises them", got.Roles.MaxHosts, got.VScan.MaxPairs)
	}
	if got.TRW.MaxBytes != 1<<30/trwShare || got.Talkers.MaxBytes != 1<<30/talkersShare {
		t.Errorf("trw %d, talkers %d bytes", got.TRW.MaxBytes, got.Talkers.MaxBytes)
	}
	for _, n := range []int{500, 1 << 24} {
		cfg.VScan.MaxPairs, cfg.Roles.MaxHosts = n, n
		if got := budgeted(cfg); got.VScan.MaxPairs != n || got.Roles.MaxHosts != n {
			t.Errorf("policy bound %d: %d pairs, %d hosts", n, got.VScan.MaxPairs, got.Roles.MaxHosts)
		}
	}
	cfg = DefaultConfiguration()
	cfg.Memory = 0
	if got := budgeted(cfg); got.VScan.MaxPairs != vscan.DefaultConfig().MaxPairs || got.Roles.MaxHosts != roles.DefaultConfig().MaxHosts {
		t.Errorf("no budget: %d pairs, %d hosts", got.VScan.MaxPairs, got.Roles.MaxHosts)
	}
}

// A report's batch is 64k flows under the default budget or none, a 64th
// of a smaller budget, never under dscan's 16k; a pass of one or two
// analysers (dscan, convert) keeps 16k; BatchFlows overrides both.
func TestBatchSizeFollowsAnalysersAndBudget(t *testing.T) {
	for _, c := range []struct {
		memory    int64
		flows     int
		analysers int
		want      int
	}{
		{1 << 30, 0, 10, 64 << 10},
		{0, 0, 10, 64 << 10},
		{4 << 30, 0, 10, 64 << 10},
		{512 << 20, 0, 10, 32 << 10},
		{256 << 20, 0, 10, 16 << 10},
		{4 << 20, 0, 10, 16 << 10},
		{1 << 30, 0, 1, 16 << 10},
		{0, 0, 2, 16 << 10},
		{1 << 30, 999, 10, 999},
		{1 << 30, 999, 1, 999},
	} {
		cfg := DefaultConfiguration()
		cfg.Memory, cfg.BatchFlows = c.memory, c.flows
		if got := batchSize(cfg, c.analysers); got != c.want {
			t.Errorf("memory %d, BatchFlows %d, %d analysers: batch of %d flows, want %d", c.memory, c.flows, c.analysers, got, c.want)
		}
	}
}
