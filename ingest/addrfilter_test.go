package ingest

import (
	"net/netip"
	"testing"

	"github.com/flowsift/flowsift/flow"
)

// The address filter keeps the records that carry both addresses, in
// order, and counts the others with the fields they lacked; a chunk
// without any to drop comes back as it was.
func TestAddrFilterKeep(t *testing.T) {
	rec := func(i int, fields uint64) flow.Record {
		return flow.Record{Start: int64(i), Src: netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), Fields: fields}
	}
	both := needAddrs | flow.FSrcPort
	f := newAddrFilter(Options{RequireAddresses: true}, "x")
	all := []flow.Record{rec(1, both), rec(2, both), rec(3, both)}
	if got := f.keep(all); len(got) != 3 || &got[0] != &all[0] || got[2].Start != 3 {
		t.Fatalf("nothing to drop: got %d records", len(got))
	}
	mixed := []flow.Record{rec(1, both), rec(2, flow.FSrcAddr), rec(3, both), rec(4, 0), rec(5, both)}
	got := f.keep(mixed)
	var starts []int64
	for _, r := range got {
		starts = append(starts, r.Start)
	}
	if len(starts) != 3 || starts[0] != 1 || starts[1] != 3 || starts[2] != 5 {
		t.Fatalf("kept %v, want [1 3 5]", starts)
	}
	if f.dropped != 2 || f.kept != 6 || f.missing != needAddrs {
		t.Fatalf("dropped %d kept %d missing %b", f.dropped, f.kept, f.missing)
	}
	first := []flow.Record{rec(1, 0), rec(2, both)}
	if got := f.keep(first); len(got) != 1 || got[0].Start != 2 {
		t.Fatalf("first dropped: got %v", got)
	}
	off := newAddrFilter(Options{}, "x")
	if got := off.keep(mixed[:2]); len(got) != 2 {
		t.Fatalf("filter off dropped records")
	}
}

// BenchmarkAddrFilterKeep runs the filter over 64 chunks (64 MB of
// records, more than the caches) that carry every address, as a report's
// input does.
func BenchmarkAddrFilterKeep(b *testing.B) {
	chunks := make([][]flow.Record, 64)
	for i := range chunks {
		chunks[i] = make([]flow.Record, chunkSize)
		for j := range chunks[i] {
			chunks[i][j].Fields = needAddrs
		}
	}
	f := newAddrFilter(Options{RequireAddresses: true}, "x")
	for b.Loop() {
		for _, c := range chunks {
			f.keep(c)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(chunks)*chunkSize), "ns/record")
}
