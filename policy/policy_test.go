package policy

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/flowsift/flowsift/pass"
)

func repoRoot(t *testing.T) string {
	_, f, _, _ := runtime.Caller(0)
	d := filepath.Dir(f)
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		p := filepath.Dir(d)
		if p == d {
			t.Fatal("go.mod not found")
		}
		d = p
	}
}

func TestEmptyIsDefault(t *testing.T) {
	p, err := Parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, Default()) {
		t.Fatalf("empty file differs from Default()")
	}
	if want := (Dscan{Depth: 200, Ports: 64, AgerTimeout: 90000, Octets: 1_000_000_000, Packets: 1_000_000, DurationMS: 1_800_000}); Default().Dscan != want {
		t.Fatalf("dscan defaults %+v", Default().Dscan)
	}
}

func TestExampleLoads(t *testing.T) {
	p, err := Load(filepath.Join(repoRoot(t), "samples", "policy.example.toml"))
	if err != nil {
		t.Fatal(err)
	}
	d := Default()
	// The example states the defaults for everything but the site's own
	// lists (marked "example" in the file).
	if !reflect.DeepEqual(p.Special, d.Special) || p.Dscan != d.Dscan || p.Talkers != d.Talkers || p.Weighted != d.Weighted || p.TRW != d.TRW || p.Heuristics != d.Heuristics ||
		p.VScan != d.VScan || p.Guess != d.Guess || p.HostRoles != d.HostRoles {
		t.Fatalf("example defaults differ from Default():\n%+v\n%+v", p, d)
	}
	if len(p.Local) != 3 || len(p.Plan) != 6 || len(p.Roles) != 1 || p.Roles[0].Connects[1].Lo != 443 {
		t.Fatalf("example site lists: %+v", p)
	}
	h := p.HeuristicsConfig()
	if !h.Plan[2].Contains(netip.MustParseAddr("10.20.2.150")) || h.Roles[0].Serves[0].Lo != 3128 {
		t.Fatalf("heuristics config %+v", h)
	}
}

func TestErrorsNameKeyAndLine(t *testing.T) {
	for _, c := range []struct{ name, text, want string }{
		{"syntax", "local = [\"10.0.0.0/8\"\n[trw]\n", "line "},
		{"bad cidr", "# c\nlocal = [\"10.0.0.0/33\"]\n", "line 2: key local: bad network \"10.0.0.0/33\""},
		{"host bits", "\n\nwhitelist = [\"10.1.2.3/8\"]\n", "line 3: key whitelist"},
		{"bad addr in table", "[[plan]]\nname = \"a\"\nkind = \"dhcp\"\nfirst = \"10.0.0.300\"\n", "line 4: key plan.first: bad address"},
		{"bad port", "[[role]]\nname = \"p\"\nhosts = [\"10.0.0.1\"]\nconnects = [\"tcp/99999\"]\n", "line 4: key role.connects: bad port spec"},
		{"unknown key", "[trw]\ntheta0 = 0.8\ntheta9 = 1\n", "unknown key(s): trw.theta9 (line 3)"},
		{"wrong type", "[dscan]\ndepth = \"many\"\n", `line 2 (last key "dscan.depth")`},
		{"range", "[trw]\n\nalpha = 1.5\n", "line 3: key trw.alpha: must be between 0 and 1"},
		{"order", "[trw]\ntheta0 = 0.2\ntheta1 = 0.8\n", "line 3: key trw.theta1"},
		{"plan kind", "[[plan]]\nname = \"a\"\nkind = \"dynamic\"\nfirst = \"10.0.0.1\"\nlast = \"10.0.0.9\"\n", "line 3: key plan.kind"},
		{"plan order", "[[plan]]\nname = \"a\"\nkind = \"dhcp\"\nfirst = \"10.0.0.9\"\nlast = \"10.0.0.1\"\n", "line 5: key plan.last"},
	} {
		_, err := Parse([]byte(c.text))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to contain %q", c.name, err, c.want)
		}
	}
}

func TestLoadNamesFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "p.toml")
	os.WriteFile(f, []byte("[weighted]\nthreshold = 0\n"), 0o644)
	_, err := Load(f)
	if err == nil || !strings.Contains(err.Error(), f) || !strings.Contains(err.Error(), "line 2: key weighted.threshold") {
		t.Fatalf("got %v", err)
	}
}

func TestEmptySpecialSwitchesRuleOff(t *testing.T) {
	p, err := Parse([]byte("special = []\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c := p.HeuristicsConfig(); c.Special == nil || len(c.Special) != 0 {
		t.Fatalf("special %v", c.Special)
	}
	if c := Default().HeuristicsConfig(); len(c.Special) != 17 {
		t.Fatalf("default special %v", c.Special)
	}
}

// TestApplyFillsTheConfiguration: every key of the policy reaches the
// pass's configuration, so that a site can keep in its policy what it
// would otherwise repeat on every command line.
func TestApplyFillsTheConfiguration(t *testing.T) {
	p, err := Parse([]byte(`local = ["10.0.0.0/8"]
[dscan]
depth = 50
ports = 20
ager_timeout = 1000
octets = 5
packets = 6
duration_ms = 7
ignore_multicast = true
ignore_www_inbound = true
ignore_www_outbound = true
max_sources = 1000
suppress = "/etc/flowsift/dscan.suppress"
[talkers]
top = 7
[weighted]
threshold = 30
[trw]
window_ms = 5000
[heuristics]
fan_out = 300
`))
	if err != nil {
		t.Fatal(err)
	}
	c := pass.DefaultConfiguration()
	p.Apply(&c)
	d := c.Dscan
	if d.Depth != 50 || d.PortTrigger != 20 || d.AgerTimeout != 1000 || d.Octets != 5 || d.Packets != 6 || d.Time != 7 ||
		!d.Mcast || !d.WWWIn || !d.WWWOut || d.MaxSources != 1000 {
		t.Errorf("dscan config %+v", d)
	}
	if c.SuppressFile != "/etc/flowsift/dscan.suppress" || c.Talkers.N != 7 || c.Weighted.Threshold != 30 ||
		c.TRW.WindowMS != 5000 || c.Heuristics.FanOut != 300 || len(c.Local) != 1 || c.Local[0].String() != "10.0.0.0/8" {
		t.Errorf("configuration %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := Parse([]byte("[dscan]\nmax_sources = -1\n")); err == nil || !strings.Contains(err.Error(), "dscan.max_sources") {
		t.Errorf("negative max_sources: %v", err)
	}
	if _, err := Parse([]byte("[talkers]\ntop = 0\n")); err == nil || !strings.Contains(err.Error(), "talkers.top") {
		t.Errorf("top 0: %v", err)
	}
}

// TestNewDetectorsKeys: [vscan], [guess] and [host_roles] reach the pass's
// configuration, and a bad value is refused naming its key and line.
func TestNewDetectorsKeys(t *testing.T) {
	p, err := Parse([]byte(`[trw]
theta0 = 0.9
[vscan]
min_failed = 15
horizon_ms = 3600000
[guess]
min_attempts = 50
window_ms = 600000
min_similar = 0.75
[host_roles]
min_peers = 25
client_answered = 0.99
`))
	if err != nil {
		t.Fatal(err)
	}
	c := pass.DefaultConfiguration()
	p.Apply(&c)
	if c.VScan.MinFailed != 15 || c.VScan.HorizonMS != 3_600_000 || c.VScan.WindowMS != 30_000 || c.VScan.Walk.Theta0 != 0.9 {
		t.Errorf("vscan config %+v", c.VScan)
	}
	if c.Guess.MinAttempts != 50 || c.Guess.GapMS != 600_000 || c.Guess.MinSimilar != 0.75 || c.Guess.MinPackets != 6 {
		t.Errorf("guess config %+v", c.Guess)
	}
	if c.Roles.MinPeers != 25 || c.Roles.ClientAnswered != 0.99 || c.Roles.ServerShare != 0.8 {
		t.Errorf("roles config %+v", c.Roles)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ text, want string }{
		{"[guess]\nmin_similar = 1.5\n", "line 2: key guess.min_similar:"},
		{"\n[host_roles]\nmin_peers = 0\n", "line 3: key host_roles.min_peers:"},
		{"[guess]\nmin_packets = 200\n", "line 2: key guess.min_packets:"},
		{"[vscan]\nhorizon_ms = -1\n", "line 2: key vscan.horizon_ms:"},
	} {
		_, err := Parse([]byte(tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want an error naming %q", tc.text, err, tc.want)
		}
	}
}
