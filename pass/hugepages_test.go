package pass

import (
	"testing"
	"time"
)

func TestParseHugePages(t *testing.T) {
	for _, h := range []HugePages{HugePagesAuto, HugePagesOn, HugePagesOff} {
		got, err := ParseHugePages(h.String())
		if err != nil || got != h {
			t.Errorf("ParseHugePages(%q) = %v, %v", h.String(), got, err)
		}
	}
	for _, s := range []string{"", "yes", "AUTO", "1"} {
		if _, err := ParseHugePages(s); err == nil {
			t.Errorf("ParseHugePages(%q) accepted", s)
		}
	}
	var zero Configuration
	if zero.HugePages != HugePagesAuto {
		t.Errorf("a Configuration's zero value is %v, want auto", zero.HugePages)
	}
}

// Huge pages are asked for when a fault cost more than slowFault, on
// average over the probe.
func TestSlowFaults(t *testing.T) {
	for _, c := range []struct {
		cost  time.Duration
		pages int
		want  bool
	}{
		{2048 * 11 * time.Microsecond, 2048, true},
		{2048*slowFault + 1, 2048, true},
		{2048 * slowFault, 2048, false},
		{2048 * 2 * time.Microsecond, 2048, false},
		{time.Second, 0, false},
	} {
		if got := slowFaults(c.cost, c.pages); got != c.want {
			t.Errorf("slowFaults(%v, %d) = %v, want %v", c.cost, c.pages, got, c.want)
		}
	}
}
