package sourcelag

import (
	"slices"
	"testing"
	"time"
)

func TestBound(t *testing.T) {
	for window, want := range map[time.Duration]time.Duration{
		0:                MinBound,
		10 * time.Minute: MinBound,
		3 * time.Hour:    18 * time.Minute,
		10 * time.Hour:   time.Hour,
		24 * time.Hour:   time.Hour,
	} {
		if got := Bound(window); got != want {
			t.Errorf("Bound(%v) = %v, want %v", window, got, want)
		}
	}
}

func TestBehind(t *testing.T) {
	const h = int64(time.Hour / time.Millisecond)
	for _, c := range []struct {
		last, want []int64
	}{
		{nil, []int64{}},
		{[]int64{5 * h}, []int64{0}},
		// rtr-b stopped 2 h before rtr-a; rtr-c gave nothing.
		{[]int64{5 * h, 3 * h, 0}, []int64{0, 2 * h, 0}},
		// The latest is compared with the second latest, never behind.
		{[]int64{3 * h, 5 * h, 4 * h}, []int64{2 * h, 0, h}},
		// Two sources at the same latest end.
		{[]int64{5 * h, 5 * h, 1}, []int64{0, 0, 5*h - 1}},
		{[]int64{0, 0}, []int64{0, 0}},
	} {
		if got := Behind(c.last); !slices.Equal(got, c.want) {
			t.Errorf("Behind(%v) = %v, want %v", c.last, got, c.want)
		}
	}
}

func TestNote(t *testing.T) {
	day := 24 * time.Hour
	ms := func(d time.Duration) int64 { return int64(d / time.Millisecond) }
	for _, c := range []struct {
		behind time.Duration
		window time.Duration
		want   string
	}{
		{2*time.Hour + 50*time.Minute + 7*time.Second, day, "stopped 2 h 50 min before the others"},
		{time.Hour, day, ""}, // exactly the bound: not marked
		{time.Hour + time.Minute, day, "stopped 1 h 1 min before the others"},
		{20 * time.Minute, 3 * time.Hour, "stopped 20 min before the others"},
		{20 * time.Minute, day, ""},
		{4 * time.Minute, 10 * time.Minute, ""},
		{27 * time.Hour, 7 * day, "stopped 1 d 3 h before the others"},
		{0, 0, ""},
	} {
		if got := Note(ms(c.behind), c.window); got != c.want {
			t.Errorf("Note(%v, window %v) = %q, want %q", c.behind, c.window, got, c.want)
		}
	}
	if got := Duration(30 * time.Second); got != "0 min" {
		t.Errorf("Duration(30s) = %q", got)
	}
	if got := Duration(48 * time.Hour); got != "2 d" {
		t.Errorf("Duration(48h) = %q", got)
	}
}
