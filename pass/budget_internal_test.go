package pass

import (
	"testing"

	"github.com/flowsift/flowsift/analyze/roles"
	"github.com/flowsift/flowsift/analyze/vscan"
)

// The budget bounds vscan's pairs and the roles' hosts by their shares;
// without a budget, or with a bound of the policy's, the configuration
// stands.
func TestBudgetBoundsVScanAndRoles(t *testing.T) {
	cfg := DefaultConfiguration()
	cfg.Memory = 1 << 30
	got := budgeted(cfg)
	if want := int(int64(1<<30) / vscanShare / vscan.PairBytes); got.VScan.MaxPairs != want {
		t.Errorf("vscan max pairs %d, want %d", got.VScan.MaxPairs, want)
	}
	if want := int(int64(1<<30) / rolesShare / roles.HostBytes); got.Roles.MaxHosts != want {
		t.Errorf("roles max hosts %d, want %d", got.Roles.MaxHosts, want)
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
