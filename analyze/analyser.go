package analyze

import (
	"fmt"
	"net/netip"

	"github.com/flowsift/flowsift/flow"
)

// Detector is what every detector offers the pass: it takes the ordered
// stream batch by batch and hands findings to the Sink it was built with.
// A detector that holds findings back until the stream ends (a pending
// test waiting for its time-out) also implements Flusher.
type Detector interface {
	Add(flow.Batch)
}

// Flusher is a Detector that emits its last findings at the end of the
// stream.
type Flusher interface {
	Flush()
}

// Setting is one option or threshold in force, as the report's settings
// section shows it.
type Setting struct {
	Name  string
	Value string
}

// Shard is one part of the source address space: the sources whose fixed
// hash modulo Count is Index. Analysers run on a shard keep state and
// findings only for its sources, so that the parts of a split run merge
// into the result of one run over everything. The zero Shard (Count 0) is
// the whole space.
type Shard struct {
	Index, Count int
}

// Whole reports whether s is the whole address space.
func (s Shard) Whole() bool { return s.Count <= 1 }

// Owns reports whether source a belongs to s.
func (s Shard) Owns(a netip.Addr) bool {
	if s.Count <= 1 {
		return true
	}
	return int(shardHash(a)%uint32(s.Count)) == s.Index
}

// Validate checks that Index is one of Count parts.
func (s Shard) Validate() error {
	if s.Count < 0 || (s.Count > 0 && (s.Index < 0 || s.Index >= s.Count)) {
		return fmt.Errorf("shard %d of %d: want 0 <= index < count", s.Index, s.Count)
	}
	return nil
}

func (s Shard) String() string {
	if s.Whole() {
		return "all sources"
	}
	return fmt.Sprintf("part %d of %d (by source address hash)", s.Index+1, s.Count)
}

// shardHash is FNV-1a over the 16-byte form of the address: fixed across
// processes and machines, so every machine of a split run agrees.
func shardHash(a netip.Addr) uint32 {
	b := a.As16()
	h := uint32(2166136261)
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	return h
}
