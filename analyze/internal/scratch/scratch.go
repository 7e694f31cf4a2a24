// Package scratch hands out large, short-lived, pointer-free buffers from
// outside the Go heap. A detector that moves millions of entries at once
// (TRW evicting to disk) needs a buffer of tens of megabytes for a moment;
// allocated on the heap, each one brought the next collection nearer, and
// near the memory budget the collector ran back to back.
package scratch

import "unsafe"

// Buffer is memory for n values of T, which must hold no pointers: the
// garbage collector does not see into it.
type Buffer[T any] struct {
	s    []T
	free func()
}

// New returns room for n values of T, zeroed. Untouched pages cost
// nothing where the system maps them lazily.
func New[T any](n int) *Buffer[T] {
	var zero T
	size := int(unsafe.Sizeof(zero))
	if n <= 0 || size == 0 {
		return &Buffer[T]{free: func() {}}
	}
	b, free := alloc(n * size)
	return &Buffer[T]{s: unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), n), free: free}
}

// Slice is the buffer's memory, valid until Free.
func (b *Buffer[T]) Slice() []T { return b.s }

// Free gives the memory back; the slice must not be used after.
func (b *Buffer[T]) Free() {
	b.s = nil
	b.free()
	b.free = func() {}
}
