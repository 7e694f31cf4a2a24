package pass

import (
	"bytes"
	"os"
	"syscall"
)

// threadCPU is the CPU time the calling thread has used (user and
// system, where the kernel counts its page faults). The caller locks
// itself to its thread.
func threadCPU() (ns int64, ok bool) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_THREAD, &ru) != nil {
		return 0, false
	}
	return ru.Utime.Nano() + ru.Stime.Nano(), true
}

// adviseHuge asks the kernel to back b with transparent huge pages and
// says whether it will: where THP is "madvise" (Debian's default) or
// "always". Under "never" the advice is taken and does nothing, and b is
// better faulted in at once.
func adviseHuge(b []byte) bool {
	return thpUsable() && syscall.Madvise(b, syscall.MADV_HUGEPAGE) == nil
}

// thpEnabled is the kernel's THP mode; the tests point it elsewhere.
var thpEnabled = "/sys/kernel/mm/transparent_hugepage/enabled"

func thpUsable() bool {
	s, err := os.ReadFile(thpEnabled)
	return err == nil && !bytes.Contains(s, []byte("[never]"))
}
