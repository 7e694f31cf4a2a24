// Package nfv5 encodes flows as NetFlow v5 export packets (PDUs) and, for
// tests, captures them with a real nfcapd so that nfdump's own output can be
// used as ground truth. Only IPv4 flows can be expressed in v5.
package nfv5

import (
	"encoding/binary"
	"fmt"

	"github.com/flowsift/flowsift/flow"
)

const (
	HeaderLen = 24 // bytes of the v5 packet header
	RecordLen = 48 // bytes of one v5 flow record
	MaxFlows  = 30 // records per packet allowed by the v5 format
)

// uptime is the exporter uptime every encoded packet claims. A day keeps
// First/Last positive for any flow that started less than a day before the
// packet's export time.
const uptime = 86_400_000

// Encode turns recs into v5 packets of at most MaxFlows records; seq is the
// flow sequence number of the first record. Times: each packet's export time
// is the latest End among its flows rounded up to the next whole second
// (unix_nsecs 0, so collectors that ignore nanoseconds agree), and
// First/Last are Start/End on a uptime clock of one day. A flow longer than
// that, or a non-IPv4 flow, is an error. Packets and octets above 2^32-1
// are an error too (v5 counters are 32-bit).
func Encode(recs []flow.Record, seq uint32) ([][]byte, error) {
	var out [][]byte
	for i := 0; i < len(recs); i += MaxFlows {
		b := recs[i:min(i+MaxFlows, len(recs))]
		pkt, err := encodePacket(b, seq)
		if err != nil {
			return nil, fmt.Errorf("nfv5: flow %d..%d: %w", i, i+len(b)-1, err)
		}
		out = append(out, pkt)
		seq += uint32(len(b))
	}
	return out, nil
}

func encodePacket(b []flow.Record, seq uint32) ([]byte, error) {
	var now int64
	for i := range b {
		now = max(now, b[i].End)
	}
	nowS := now/1000 + 1
	buf := make([]byte, HeaderLen+RecordLen*len(b))
	be := binary.BigEndian
	be.PutUint16(buf[0:], 5)
	be.PutUint16(buf[2:], uint16(len(b)))
	be.PutUint32(buf[4:], uptime)
	be.PutUint32(buf[8:], uint32(nowS))
	be.PutUint32(buf[16:], seq)
	if len(b) > 0 {
		buf[20], buf[21] = b[0].EngineType, b[0].EngineID
	}
	for i := range b {
		r := &b[i]
		if !r.Src.Is4() || !r.Dst.Is4() {
			return nil, fmt.Errorf("flow %d is not IPv4 (%v -> %v)", i, r.Src, r.Dst)
		}
		if r.Packets > 0xffffffff || r.Octets > 0xffffffff {
			return nil, fmt.Errorf("flow %d: counters exceed 32 bits", i)
		}
		ageFirst, ageLast := nowS*1000-r.Start, nowS*1000-r.End
		if ageFirst > uptime || ageLast < 0 || r.End < r.Start {
			return nil, fmt.Errorf("flow %d: start %d end %d do not fit one day of uptime", i, r.Start, r.End)
		}
		o := buf[HeaderLen+RecordLen*i:]
		be.PutUint32(o[0:], flow.AddrU32(r.Src))
		be.PutUint32(o[4:], flow.AddrU32(r.Dst))
		be.PutUint32(o[8:], flow.AddrU32(r.Nexthop))
		be.PutUint16(o[12:], uint16(r.Input))
		be.PutUint16(o[14:], uint16(r.Output))
		be.PutUint32(o[16:], uint32(r.Packets))
		be.PutUint32(o[20:], uint32(r.Octets))
		be.PutUint32(o[24:], uint32(uptime-ageFirst))
		be.PutUint32(o[28:], uint32(uptime-ageLast))
		be.PutUint16(o[32:], r.SrcPort)
		be.PutUint16(o[34:], r.DstPort)
		o[37] = r.TCPFlags
		o[38] = r.Proto
		o[39] = r.ToS
		be.PutUint16(o[40:], uint16(r.SrcAS))
		be.PutUint16(o[42:], uint16(r.DstAS))
		o[44] = r.SrcMask
		o[45] = r.DstMask
	}
	return buf, nil
}
