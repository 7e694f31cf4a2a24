package pass

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// mapping returns the VmFlags and the resident kilobytes of the mapping
// of this process that holds addr, from /proc/self/smaps.
func mapping(t *testing.T, addr uintptr) (flags []string, rssKB int) {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("no smaps: %v", err)
	}
	defer f.Close()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		var lo, hi uintptr
		if n, _ := fmt.Sscanf(l, "%x-%x ", &lo, &hi); n == 2 {
			in = lo <= addr && addr < hi
			continue
		}
		if !in {
			continue
		}
		if rest, ok := strings.CutPrefix(l, "Rss:"); ok {
			fmt.Sscanf(rest, "%d", &rssKB)
		}
		if rest, ok := strings.CutPrefix(l, "VmFlags:"); ok {
			return strings.Fields(rest), rssKB
		}
	}
	t.Fatalf("no mapping holds %#x", addr)
	return nil, 0
}

// anonBlock maps n bytes of its own, unmapped when the test ends: the Go
// heap's free pages may carry the advice of an earlier test's pretouch.
func anonBlock(t *testing.T, n int) []byte {
	t.Helper()
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatalf("mmap: %v", err)
	}
	t.Cleanup(func() { syscall.Munmap(b) })
	return b
}

// state says whether the end of b asked for huge pages and whether it
// was faulted in (all of its mapping resident).
func state(t *testing.T, b []byte) (advised, resident bool) {
	flags, rss := mapping(t, uintptr(unsafe.Pointer(&b[len(b)-1])))
	return slices.Contains(flags, "hg"), rss > 0
}

// off never asks for huge pages, on always does, and auto does when the
// probe's faults were slow: its clock is made to show 1 µs a fault, then
// 11 µs (a virtual machine whose host backs memory lazily). A block that
// asked for huge pages is not faulted in; one that did not is.
func TestTouchBlockHugePages(t *testing.T) {
	if !thpUsable() {
		t.Skip("transparent huge pages are off here")
	}
	defer func(c func() (int64, bool)) { faultClock = c }(faultClock)

	check := func(name string, h HugePages, wantHuge bool) {
		t.Helper()
		b := anonBlock(t, 32<<20)
		asked := touchBlock(b, h, len(b))
		advised, resident := state(t, b)
		if asked != wantHuge || advised != wantHuge {
			t.Errorf("%s: asked for huge pages %v (mapping advised %v), want %v", name, asked, advised, wantHuge)
		}
		// Ordinary pages are faulted in first; memory that asked for
		// huge pages is left for the pass to fault in.
		if resident == wantHuge {
			t.Errorf("%s: end of the block resident %v, want %v", name, resident, !wantHuge)
		}
	}
	check("off", HugePagesOff, false)
	// Without huge pages only the warm part is faulted in.
	b := anonBlock(t, 32<<20)
	touchBlock(b, HugePagesOff, 8<<20)
	if !pageResident(t, b[8<<20-1:]) || pageResident(t, b[8<<20:]) || pageResident(t, b[len(b)-1:]) {
		t.Errorf("off, 8 of 32 MiB warm: resident %v at its last byte, %v after it, %v at the block's end; want true, false, false",
			pageResident(t, b[8<<20-1:]), pageResident(t, b[8<<20:]), pageResident(t, b[len(b)-1:]))
	}
	perFault := 1 * time.Microsecond
	var now int64
	faultClock = func() (int64, bool) {
		now += int64(perFault) * hugeProbe / int64(os.Getpagesize())
		return now, true
	}
	check("auto, 1 µs a fault", HugePagesAuto, false)
	perFault = 11 * time.Microsecond
	check("auto, 11 µs a fault", HugePagesAuto, true)
	check("on", HugePagesOn, true)
}

// Where the kernel's THP mode is "never" the advice would do nothing:
// on asks for no huge pages and the block is faulted in at once.
func TestTouchBlockTHPNever(t *testing.T) {
	defer func(p string) { thpEnabled = p }(thpEnabled)
	for _, c := range []struct {
		mode   string
		usable bool
	}{
		{"always madvise [never]\n", false},
		{"always [madvise] never\n", true},
		{"[always] madvise never\n", true},
	} {
		thpEnabled = filepath.Join(t.TempDir(), "enabled")
		if err := os.WriteFile(thpEnabled, []byte(c.mode), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := thpUsable(); got != c.usable {
			t.Errorf("%q: usable %v, want %v", c.mode, got, c.usable)
		}
	}
	thpEnabled = filepath.Join(t.TempDir(), "enabled")
	os.WriteFile(thpEnabled, []byte("always madvise [never]\n"), 0o644)
	b := anonBlock(t, 8<<20)
	if touchBlock(b, HugePagesOn, len(b)) {
		t.Errorf("on under never: asked for huge pages")
	}
	if advised, resident := state(t, b); advised || !resident {
		t.Errorf("on under never: advised %v, resident %v; want neither advised nor left unfaulted", advised, resident)
	}
}

// pageResident says whether the page holding b[0] is in memory (mincore).
func pageResident(t *testing.T, b []byte) bool {
	t.Helper()
	page := uintptr(os.Getpagesize())
	addr := uintptr(unsafe.Pointer(&b[0])) &^ (page - 1)
	var vec [1]byte
	if _, _, e := syscall.Syscall(syscall.SYS_MINCORE, addr, page, uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		t.Fatalf("mincore: %v", e)
	}
	return vec[0]&1 != 0
}
