package pass

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/flow"
)

// TestValidateRefusesNonsense: every value that used to be taken silently
// (or silently replaced by a default) is refused, with its name in the
// message, before any input is read.
func TestValidateRefusesNonsense(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		set  func(*Configuration)
		want string
	}{
		{"jobs 0", func(c *Configuration) { c.Jobs = 0 }, "-j 0"},
		{"negative depth", func(c *Configuration) { c.Dscan.Depth = -1 }, "depth (-D) -1"},
		{"negative port trigger", func(c *Configuration) { c.Dscan.PortTrigger = -5 }, "port trigger"},
		{"negative max sources", func(c *Configuration) { c.Dscan.MaxSources = -1 }, "max-sources"},
		{"top -1", func(c *Configuration) { c.Talkers.N = -1 }, "top talkers: -1 rows"},
		{"top 0", func(c *Configuration) { c.Talkers.N = 0 }, "top talkers: 0 rows"},
		{"trw theta above 1", func(c *Configuration) { c.TRW.Theta0 = 1.5 }, "trw theta0"},
		{"trw theta1 over theta0", func(c *Configuration) { c.TRW.Theta1 = 0.9 }, "trw theta1"},
		{"weighted negative gap", func(c *Configuration) { c.Weighted.MaxGapMS = -1 }, "weighted ports"},
		{"heuristics negative window", func(c *Configuration) { c.Heuristics.WindowMS = -1 }, "heuristics"},
		{"episodes negative gap", func(c *Configuration) { c.Episodes.Gap = -1 }, "episodes"},
		{"window backwards", func(c *Configuration) { c.From, c.To = t0, t0.Add(-time.Hour) }, "window ends"},
		{"unknown detector", func(c *Configuration) { c.Detectors = []string{"dscan", "magic"} }, `unknown detector "magic"`},
		{"shard out of range", func(c *Configuration) { c.Shard = analyze.Shard{Index: 2, Count: 2} }, "shard 2 of 2"},
	} {
		c := DefaultConfiguration()
		if err := c.Validate(); err != nil {
			t.Fatalf("defaults: %v", err)
		}
		tc.set(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
}

// TestSettingsDescribeTheRun: the settings list what runs, in the
// report's order, without internal names.
func TestSettingsDescribeTheRun(t *testing.T) {
	c := DefaultConfiguration()
	c.Detectors = []string{"dscan", "trw"}
	var names []string
	for _, s := range c.Settings() {
		names = append(names, s.Name)
		if strings.Contains(s.Name+s.Value, "seed") || strings.Contains(s.Name+s.Value, "issue") {
			t.Errorf("setting %q = %q names an internal document", s.Name, s.Value)
		}
	}
	got := strings.Join(names, "|")
	want := "dscan mode|dscan depth (-D)|dscan port trigger (-S)|dscan ager timeout (-t, flows)|excessive octets (-O)|" +
		"excessive packets (-P)|excessive duration ms (-T)|suppress lists|policy file|local networks|top N|host roles|TRW"
	if got != want {
		t.Fatalf("settings\n got %s\nwant %s", got, want)
	}
}

func TestParseDetectors(t *testing.T) {
	for in, want := range map[string]string{
		"all":            "dscan,weighted-ports,trw,heuristics,vscan,guess",
		"guess,vscan":    "dscan,vscan,guess",
		"dscan":          "dscan",
		"heuristics,trw": "dscan,trw,heuristics",
		" trw , dscan ":  "dscan,trw",
	} {
		got, err := ParseDetectors(in)
		if err != nil || strings.Join(got, ",") != want {
			t.Errorf("ParseDetectors(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	if _, err := ParseDetectors("dscan,nope"); err == nil {
		t.Error("an unknown detector was accepted")
	}
}

// TestWindowFromInclusiveToExclusive: a flow ending exactly at From is
// kept, one ending exactly at To is not, and open bounds keep everything.
func TestWindowFromInclusiveToExclusive(t *testing.T) {
	from := time.UnixMilli(1000)
	to := time.UnixMilli(2000)
	b := flow.Batch{{End: 999}, {End: 1000}, {End: 1999}, {End: 2000}}
	ends := func(b flow.Batch) (out []int64) {
		for _, r := range b {
			out = append(out, r.End)
		}
		return out
	}
	for _, tc := range []struct {
		from, to time.Time
		want     string
	}{
		{from, to, "[1000 1999]"},
		{from, time.Time{}, "[1000 1999 2000]"},
		{time.Time{}, to, "[999 1000 1999]"},
		{time.Time{}, time.Time{}, "[999 1000 1999 2000]"},
	} {
		got := ends(newWindow(tc.from, tc.to).filter(b))
		if fmt.Sprint(got) != tc.want {
			t.Errorf("window %v..%v kept %v, want %s", tc.from, tc.to, got, tc.want)
		}
	}
}
