package flow

import "testing"

func TestBadRowsMergesConsecutiveLines(t *testing.T) {
	var got []Skip
	b := BadRows{Path: "x.csv", Skip: func(s Skip) { got = append(got, s) }}
	for _, l := range []int64{3, 4, 5, 9, 11, 12} {
		b.Add(l, "bad")
	}
	b.Flush()
	b.Flush() // nothing pending: no extra skip
	want := [][2]int64{{3, 3}, {9, 1}, {11, 2}}
	if len(got) != len(want) {
		t.Fatalf("%+v", got)
	}
	for i, w := range want {
		if got[i].Line != w[0] || got[i].Count != w[1] || got[i].Path != "x.csv" || got[i].Reason != "bad-row" {
			t.Fatalf("skip %d: %+v", i, got[i])
		}
	}
}
