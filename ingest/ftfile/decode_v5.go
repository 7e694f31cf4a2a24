package ftfile

import (
	"encoding/binary"
	"net/netip"

	"github.com/flowsift/flowsift/flow"
)

// v5 is nearly every archive flowsift reads, so it gets loops with the
// byte order fixed at compile time: no per-field branch, no call per
// record. Each record is fully overwritten, so no zeroing pass either.

func ip4LE(b []byte) netip.Addr { return netip.AddrFrom4([4]byte{b[3], b[2], b[1], b[0]}) }

func ip4BE(b []byte) netip.Addr { return netip.AddrFrom4([4]byte{b[0], b[1], b[2], b[3]}) }

func decodeV5LE(buf []byte, dst []flow.Record, mask uint64) {
	le := binary.LittleEndian
	for i := range dst {
		b := buf[i*64 : i*64+64 : i*64+64]
		r := &dst[i]
		*r = flow.Record{
			UnixSecs:   le.Uint32(b[0:]),
			UnixNsecs:  le.Uint32(b[4:]),
			SysUptime:  le.Uint32(b[8:]),
			Exporter:   ip4LE(b[12:16]),
			Src:        ip4LE(b[16:20]),
			Dst:        ip4LE(b[20:24]),
			Nexthop:    ip4LE(b[24:28]),
			Input:      uint32(le.Uint16(b[28:])),
			Output:     uint32(le.Uint16(b[30:])),
			Packets:    uint64(le.Uint32(b[32:])),
			Octets:     uint64(le.Uint32(b[36:])),
			First:      le.Uint32(b[40:]),
			Last:       le.Uint32(b[44:]),
			SrcPort:    le.Uint16(b[48:]),
			DstPort:    le.Uint16(b[50:]),
			Proto:      b[52],
			ToS:        b[53],
			TCPFlags:   b[54],
			EngineType: b[56],
			EngineID:   b[57],
			SrcMask:    b[58],
			DstMask:    b[59],
			SrcAS:      uint32(le.Uint16(b[60:])),
			DstAS:      uint32(le.Uint16(b[62:])),
			Fields:     mask,
		}
		r.SetTimesFromUptime()
	}
}

func decodeV5BE(buf []byte, dst []flow.Record, mask uint64) {
	be := binary.BigEndian
	for i := range dst {
		b := buf[i*64 : i*64+64 : i*64+64]
		r := &dst[i]
		*r = flow.Record{
			UnixSecs:   be.Uint32(b[0:]),
			UnixNsecs:  be.Uint32(b[4:]),
			SysUptime:  be.Uint32(b[8:]),
			Exporter:   ip4BE(b[12:16]),
			Src:        ip4BE(b[16:20]),
			Dst:        ip4BE(b[20:24]),
			Nexthop:    ip4BE(b[24:28]),
			Input:      uint32(be.Uint16(b[28:])),
			Output:     uint32(be.Uint16(b[30:])),
			Packets:    uint64(be.Uint32(b[32:])),
			Octets:     uint64(be.Uint32(b[36:])),
			First:      be.Uint32(b[40:]),
			Last:       be.Uint32(b[44:]),
			SrcPort:    be.Uint16(b[48:]),
			DstPort:    be.Uint16(b[50:]),
			Proto:      b[52],
			ToS:        b[53],
			TCPFlags:   b[54],
			EngineType: b[56],
			EngineID:   b[57],
			SrcMask:    b[58],
			DstMask:    b[59],
			SrcAS:      uint32(be.Uint16(b[60:])),
			DstAS:      uint32(be.Uint16(b[62:])),
			Fields:     mask,
		}
		r.SetTimesFromUptime()
	}
}
