package analyze

import (
	"net/netip"
	"testing"
	"unsafe"

	"github.com/flowsift/flowsift/flow"
)

// A brief keeps exactly the fields a finding of a waiting detector shows,
// and Record gives them back in a flow with nothing else set.
func TestBriefKeepsWhatAFindingShows(t *testing.T) {
	r := flow.Record{Start: 1000, End: 2000, Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("2001:db8::2"),
		SrcPort: 40000, DstPort: 22, Proto: 6, Packets: 3, Octets: 180, TCPFlags: flow.TCPSyn}
	b := BriefOf(&r)
	want := flow.Record{Start: 1000, Src: r.Src, Dst: r.Dst, SrcPort: 40000, DstPort: 22, Proto: 6}
	if got := b.Record(); got != want {
		t.Fatalf("Record() = %+v, want %+v", got, want)
	}
	if n := unsafe.Sizeof(Brief{}); n > 64 {
		t.Fatalf("Brief is %d bytes: more than the 64 its users count on", n)
	}
}
