package pass

import "syscall"

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

// adviseHuge asks the kernel to back b with transparent huge pages. It
// has an effect where THP is "madvise" (Debian's default) or "always";
// under "never" the pages stay ordinary.
func adviseHuge(b []byte) bool {
	return syscall.Madvise(b, syscall.MADV_HUGEPAGE) == nil
}
