package scratch

import (
	"runtime"
	"testing"
)

type entry struct {
	k uint64
	v uint32
}

// A buffer is zeroed, holds what is written to it, and is not on the Go
// heap: allocating one leaves the heap as it was.
func TestBuffer(t *testing.T) {
	const n = 1 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b := New[entry](n)
	s := b.Slice()
	if len(s) != n {
		t.Fatalf("len %d", len(s))
	}
	for i := range s {
		if s[i] != (entry{}) {
			t.Fatalf("entry %d not zero", i)
		}
		s[i] = entry{uint64(i), uint32(i)}
	}
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); offHeap && grew > n {
		t.Fatalf("heap grew by %d bytes for a %d-byte buffer", grew, n*16)
	}
	for i := range s {
		if s[i].k != uint64(i) {
			t.Fatalf("entry %d lost", i)
		}
	}
	b.Free()
	b.Free() // twice is harmless
	if New[entry](0).Slice() != nil {
		t.Fatal("empty buffer has memory")
	}
}
