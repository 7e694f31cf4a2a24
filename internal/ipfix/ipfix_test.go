package ipfix

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/flowsift/flowsift/flow"
)

// Messages frame correctly: header length, template set, and a data set
// of whole records of the family's template.
func TestEncodeFraming(t *testing.T) {
	var recs []flow.Record
	for i := range 20 {
		r := flow.Record{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Start: 1000, End: 2500}
		if i >= 13 {
			r.Src, r.Dst = netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
		}
		recs = append(recs, r)
	}
	msgs, err := Encode(recs, 7)
	if err != nil {
		t.Fatal(err)
	}
	// 13 IPv4 flows: 8 + 5; 7 IPv6 flows: 7.
	want := []int{8, 5, 7}
	if len(msgs) != len(want) {
		t.Fatalf("%d messages", len(msgs))
	}
	be := binary.BigEndian
	var seq uint32
	for i, m := range msgs {
		if be.Uint16(m) != 10 || int(be.Uint16(m[2:])) != len(m) || be.Uint32(m[8:]) != seq || be.Uint32(m[12:]) != 7 || be.Uint32(m[4:]) != 3 {
			t.Fatalf("message %d header % x", i, m[:16])
		}
		tlen := int(be.Uint16(m[18:]))
		d := m[16+tlen:]
		fs := fields4
		if i == 2 {
			fs = fields6
		}
		if be.Uint16(d) != uint16(template4+i/2) || int(be.Uint16(d[2:])) != len(d) || len(d) != 4+want[i]*recordLen(fs) {
			t.Fatalf("message %d data set: id %d, %d bytes", i, be.Uint16(d), len(d))
		}
		seq += uint32(want[i])
	}
	if _, err := Encode([]flow.Record{{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("::1")}}, 0); err == nil {
		t.Fatal("mixed families accepted")
	}
}
