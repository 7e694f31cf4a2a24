package pass

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// vmFlags returns the VmFlags of the mapping of this process that holds
// addr, from /proc/self/smaps.
func vmFlags(t *testing.T, addr uintptr) []string {
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
		if rest, ok := strings.CutPrefix(l, "VmFlags:"); ok && in {
			return strings.Fields(rest)
		}
	}
	t.Fatalf("no mapping holds %#x", addr)
	return nil
}

func advised(t *testing.T, b []byte) bool {
	for _, f := range vmFlags(t, uintptr(unsafe.Pointer(&b[len(b)-1]))) {
		if f == "hg" {
			return true
		}
	}
	return false
}

// off never asks for huge pages, on always does, and auto does when the
// probe's faults were slow: its clock is made to show 11 µs a fault (a
// virtual machine whose host backs memory lazily), then 1 µs.
func TestTouchBlockHugePages(t *testing.T) {
	defer func(c func() (int64, bool)) { faultClock = c }(faultClock)
	// Each block is a mapping of its own: the Go heap's free pages may
	// carry the advice of an earlier test's pretouch.
	block := func() []byte {
		b, err := syscall.Mmap(-1, 0, 32<<20, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
		if err != nil {
			t.Fatalf("mmap: %v", err)
		}
		t.Cleanup(func() { syscall.Munmap(b) })
		return b
	}

	if b := block(); touchBlock(b, HugePagesOff) || advised(t, b) {
		t.Errorf("off: huge pages asked for")
	}
	perFault := 1 * time.Microsecond
	var now int64
	faultClock = func() (int64, bool) {
		now += int64(perFault) * hugeProbe / int64(os.Getpagesize())
		return now, true
	}
	if b := block(); touchBlock(b, HugePagesAuto) || advised(t, b) {
		t.Errorf("auto, 1 µs a fault: huge pages asked for")
	}
	perFault = 11 * time.Microsecond
	if b := block(); !touchBlock(b, HugePagesAuto) || !advised(t, b) {
		t.Errorf("auto, 11 µs a fault: huge pages not asked for")
	}
	if b := block(); !touchBlock(b, HugePagesOn) || !advised(t, b) {
		t.Errorf("on: huge pages not asked for")
	}
}
