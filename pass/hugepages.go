package pass

import (
	"fmt"
	"time"
)

// HugePages says whether the heap pretouch sets aside for the pass asks
// for transparent huge pages (see Configuration.HugePages).
type HugePages uint8

const (
	// HugePagesAuto asks for huge pages where faulting in an ordinary
	// page costs more than slowFault.
	HugePagesAuto HugePages = iota
	HugePagesOn
	HugePagesOff
)

var hugePagesNames = [...]string{"auto", "on", "off"}

func (h HugePages) String() string {
	if int(h) < len(hugePagesNames) {
		return hugePagesNames[h]
	}
	return fmt.Sprintf("HugePages(%d)", h)
}

// ParseHugePages reads --huge-pages.
func ParseHugePages(s string) (HugePages, error) {
	for i, n := range hugePagesNames {
		if s == n {
			return HugePages(i), nil
		}
	}
	return 0, fmt.Errorf("huge-pages %q: want auto, on or off", s)
}

// hugeProbe is how much of that heap is faulted in with
// ordinary pages and timed, to decide on the rest: 512 faults, 1 ms of
// CPU where they are cheap, 6-8 ms where they are slow (a probe of 8 MiB
// cost 24 ms there).
const hugeProbe = 2 << 20

// slowFault is the CPU time a page fault may cost before the rest of
// that heap asks for huge pages. Where a fault is cheap (1.7 µs a page,
// the machine of the fifteenth session: 0.11 CPU s to touch 256 MiB)
// huge pages did not pay: 8 pairs on the 3-day tree, median 2.58 CPU s
// with them against 2.38 without, their system time jumping to 0.6 s in
// some runs. Where the host backs a virtual machine's memory only when
// it is first touched, a fault costs 11-17 µs (the sixteenth session's:
// 0.7-1.2 s for those 256 MiB, about a fifth of the report's CPU on that
// tree), and with huge pages, 512 times fewer faults, the report took
// 2.72-4.16 CPU s (median 3.66) instead of 3.75-4.58 (4.44).
const slowFault = 4 * time.Microsecond

// slowFaults says whether faulting in pages took cost per page, more
// than slowFault.
func slowFaults(cost time.Duration, pages int) bool {
	return pages > 0 && cost > time.Duration(pages)*slowFault
}
