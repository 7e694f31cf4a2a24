package pass

import (
	"context"
	"testing"
	"time"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/internal/fixture"
)

// TestWindowsPartitionTheCaptureTree: on the real flow-capture tree,
// adjacent windows hold every flow exactly once, at cut points inside and
// across its files. Before windows read the files that can hold their
// flows, 10:00-11:00 and 11:00-13:00 held 72,357 of its 72,361 flows: a
// flow ending at 10:59:59.7 is stored in the file named 11:00.
func TestWindowsPartitionTheCaptureTree(t *testing.T) {
	tree := fixture.FlowTools(t, "ft-tree")
	count := func(from, to time.Time) (n uint64) {
		cfg := DefaultConfiguration()
		cfg.From, cfg.To = from, to
		_, err := Run(context.Background(), cfg, Inputs{Paths: []string{tree}}, []Analyser{Func(func(b flow.Batch) error {
			n += uint64(len(b))
			return nil
		})})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	all := count(time.Time{}, time.Time{})
	if all != 72361 {
		t.Fatalf("the tree holds %d flows, its README says 72,361", all)
	}
	at := func(hm string) time.Time {
		tm, _ := time.Parse("2006-01-02 15:04:05", "2026-11-20 "+hm)
		return tm
	}
	if n := count(at("10:00:00"), at("11:00:00")) + count(at("11:00:00"), at("13:00:00")); n != all {
		t.Errorf("10:00-11:00 and 11:00-13:00 hold %d flows, want %d", n, all)
	}
	for _, step := range []time.Duration{17 * time.Minute, 15 * time.Minute, 4*time.Minute + 59*time.Second} {
		var sum uint64
		for from := at("09:30:00"); from.Before(at("13:30:00")); from = from.Add(step) {
			sum += count(from, from.Add(step))
		}
		if sum != all {
			t.Errorf("windows of %v hold %d flows, want %d", step, sum, all)
		}
	}
}
