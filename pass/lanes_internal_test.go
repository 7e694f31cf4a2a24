package pass

import (
	"errors"
	"io"
	"reflect"
	"testing"

	"github.com/flowsift/flowsift/flow"
)

// lanes deals every analyser to exactly one lane, the costliest first to
// the emptiest lane, the same way for the same costs.
func TestLanes(t *testing.T) {
	cost := []float64{3, 5, 1, 4, 3}
	got := lanes(cost, 2)
	want := [][]int{{1, 4}, {3, 0, 2}} // 5+3 and 4+3+1; of equal costs the first listed goes first
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("lanes = %v, want %v", got, want)
	}
	if s := span(cost, got); s != 8 {
		t.Fatalf("span = %v, want 8", s)
	}
	if got := lanes(cost, 8); len(got) != 8 || span(cost, got) != 5 {
		t.Fatalf("more lanes than analysers: %v", got)
	}
}

// countA counts the flows and batches it is given.
type countA struct{ flows, batches int }

func (c *countA) Add(b flow.Batch) error    { c.flows += len(b); c.batches++; return nil }
func (c *countA) Finish() error             { return nil }
func (c *countA) WritePart(io.Writer) error { return errors.ErrUnsupported }
func (c *countA) MergePart(io.Reader) error { return errors.ErrUnsupported }

// With two lanes every analyser still sees every batch once, however its
// costs move it between lanes.
func TestFeederLanesSeeEveryBatch(t *testing.T) {
	as := make([]Analyser, 5)
	cs := make([]*countA, 5)
	for i := range as {
		cs[i] = &countA{}
		as[i] = cs[i]
	}
	f := newFeeder(2, as)
	b := make(flow.Batch, 10)
	for range 50 {
		if err := f.batch(b); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range cs {
		if c.flows != 500 || c.batches != 50 {
			t.Errorf("analyser %d: %d flows in %d batches, want 500 in 50", i, c.flows, c.batches)
		}
	}
}
