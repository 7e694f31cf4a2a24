// Package sourcelag holds the one rule that marks an input path (one
// router's flow-capture tree, in the usual archive) whose flows stop well
// before the others' do: a router that stopped exporting. The run summary
// (ingest) and the report both apply it, with the same bound and wording;
// the report's window is --from/--to when given, the summary's is always
// the span of the flows read (it knows no other), so on a short window the
// two may differ by that much.
package sourcelag

import (
	"fmt"
	"strings"
	"time"
)

// The bound is a tenth of the window, kept between MinBound and MaxBound:
// a 24-hour report marks a router one hour behind, a 3-hour one 18
// minutes behind, and a short window never marks a quiet router that is
// merely a capture file (5 minutes) or so behind the others.
const (
	MinBound = 5 * time.Minute
	MaxBound = time.Hour
)

// Bound is how far behind the others a source's last flow may end before
// it is marked, for a report covering window.
func Bound(window time.Duration) time.Duration {
	return min(max(window/10, MinBound), MaxBound)
}

// Behind returns, for each source given by the End of its last flow (ms
// since the epoch, 0 when it gave no flow), how many ms that is before the
// latest last flow of the other sources; 0 when it is not behind, gave no
// flow, or no other source gave any.
func Behind(last []int64) []int64 {
	out := make([]int64, len(last))
	// The latest and the second latest Last: a source is compared with
	// the latest of the others, which is the second latest when it is
	// itself the latest.
	top, second := -1, -1
	for i, l := range last {
		switch {
		case l == 0:
		case top < 0 || l > last[top]:
			top, second = i, top
		case second < 0 || l > last[second]:
			second = i
		}
	}
	for i, l := range last {
		other := top
		if i == top {
			other = second
		}
		if l == 0 || other < 0 {
			continue
		}
		out[i] = max(last[other]-l, 0)
	}
	return out
}

// Stopped reports whether a source behindMS behind the others is marked
// in a report covering window.
func Stopped(behindMS int64, window time.Duration) bool {
	return time.Duration(behindMS)*time.Millisecond > Bound(window)
}

// Note is the mark of a source behindMS behind the others: "stopped 2 h
// 50 min before the others", or "" when Stopped says no.
func Note(behindMS int64, window time.Duration) string {
	if !Stopped(behindMS, window) {
		return ""
	}
	return "stopped " + Duration(time.Duration(behindMS)*time.Millisecond) + " before the others"
}

// Duration prints d for people to the minute, rounded down: "2 h 50 min",
// "45 min", "1 d 3 h", "0 min".
func Duration(d time.Duration) string {
	m := int64(d / time.Minute)
	days, hours, mins := m/(24*60), m/60%24, m%60
	var parts []string
	if days > 0 {
		parts = append(parts, fmt.Sprintf("%d d", days))
	}
	if hours > 0 {
		parts = append(parts, fmt.Sprintf("%d h", hours))
	}
	if mins > 0 || len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("%d min", mins))
	}
	return strings.Join(parts, " ")
}
