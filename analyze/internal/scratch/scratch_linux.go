package scratch

import "syscall"

const offHeap = true

// alloc maps n bytes. A buffer of megabytes asks for transparent huge
// pages: where page faults are slow (on the Firecracker machine that
// measured TRW's evictions, 15 µs each) faulting in a 90 MB buffer 4 KiB
// at a time took a third of a second, every eviction.
func alloc(n int) ([]byte, func()) {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]byte, n), func() {}
	}
	if n >= 4<<20 {
		_ = syscall.Madvise(b, syscall.MADV_HUGEPAGE) // a hint: without it, small pages
	}
	return b, func() { _ = syscall.Munmap(b) }
}
