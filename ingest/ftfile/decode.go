package ftfile

import (
	"encoding/binary"

	"github.com/flowsift/flowsift/flow"
)

// FlowExportMask is the set of fields (flow-export -m bits) a version
// has: flow-tools' own masks (format doc section 4.7).
func FlowExportMask(exportVersion uint16, aggMethod uint8) uint64 {
	switch exportVersion {
	case 1:
		return 0x0000000000FF31EF
	case 5:
		return 0x000000000FFF37EF
	case 6:
		return 0x000000007FFF37EF
	case 7:
		return 0x000000008FFF37EF
	case 1005:
		return 0x0000000C0FFF37EF
	case 8:
		if int(aggMethod) < len(v8Masks) {
			return v8Masks[aggMethod]
		}
	}
	return 0
}

var v8Masks = [...]uint64{0,
	0x000000000C0607FF, 0x00000000003807FF, 0x00000000050217FF, 0x000000000A0427FF,
	0x000000000F0637FF, 0x00000003804427EF, 0x00000003804637EF, 0x00000003807E37EF,
	0x000000000C4607FF, 0x00000000007807FF, 0x00000000054217FF, 0x000000000A4427FF,
	0x000000000F4637FF, 0x00000000037E37FF,
}

// u16/u32 read in the file's byte order; a branch the CPU predicts is
// cheaper than an interface call per field.
func u16(b []byte, be bool) uint16 {
	if be {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func u32(b []byte, be bool) uint32 {
	if be {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

// decoder picks the batch decoder for the file's layout.
func (rd *Reader) decoder() func(buf []byte, dst []flow.Record) {
	h := rd.hdr
	mask := rd.mask
	if h.StreamVersion == 3 && h.ExportVersion == 5 {
		if h.BigEndian {
			return func(buf []byte, dst []flow.Record) { decodeV5BE(buf, dst, mask) }
		}
		return func(buf []byte, dst []flow.Record) { decodeV5LE(buf, dst, mask) }
	}
	one := rd.recordDecoder()
	size := rd.size
	return func(buf []byte, dst []flow.Record) {
		for i := range dst {
			one(buf[i*size:(i+1)*size], &dst[i])
		}
	}
}

// recordDecoder decodes one record of any layout.
func (rd *Reader) recordDecoder() func(b []byte, r *flow.Record) {
	h := rd.hdr
	be := h.BigEndian
	mask := rd.mask
	quirk := rd.opt.CompatByteOrder && be
	if h.StreamVersion == 1 {
		v5 := h.ExportVersion == 5
		return func(b []byte, r *flow.Record) {
			*r = flow.Record{Fields: mask}
			r.UnixSecs = u32(b[0:], be)
			r.UnixNsecs = u32(b[4:], be) * 1000000
			r.Src = flow.AddrFromU32(u32(b[8:], be))
			r.Dst = flow.AddrFromU32(u32(b[12:], be))
			r.Nexthop = flow.AddrFromU32(u32(b[16:], be))
			r.Exporter = flow.AddrFromU32(0)
			r.Input = uint32(u16(b[20:], be))
			r.Output = uint32(u16(b[22:], be))
			r.Packets = uint64(u32(b[24:], be))
			r.Octets = uint64(u32(b[28:], be))
			r.First = u32(b[32:], be)
			r.Last = u32(b[36:], be)
			r.SrcPort = u16(b[40:], be)
			r.DstPort = u16(b[42:], be)
			r.Proto, r.ToS, r.TCPFlags = b[46], b[47], b[48]
			if v5 {
				r.SrcAS = uint32(u16(b[52:], be))
				r.DstAS = uint32(u16(b[54:], be))
				r.SrcMask, r.DstMask = b[56], b[57]
			}
			// These records count First/Last from the unix time with an
			// uptime of 0, so there is no wrap to correct: the modular
			// formula would put every flow 49.7 days early.
			r.Start, r.End = int64(r.FTStartMS()), int64(r.FTEndMS())
		}
	}
	if h.ExportVersion == 8 {
		return v8Decoder(h.AggMethod, be, quirk, mask)
	}
	ver := h.ExportVersion
	return func(b []byte, r *flow.Record) {
		*r = flow.Record{Fields: mask}
		r.UnixSecs = u32(b[0:], be)
		r.UnixNsecs = u32(b[4:], be)
		r.SysUptime = u32(b[8:], be)
		exaddr := u32(b[12:], be)
		if quirk && ver == 1005 {
			exaddr = binary.LittleEndian.Uint32(b[12:])
		}
		r.Exporter = flow.AddrFromU32(exaddr)
		r.Src = flow.AddrFromU32(u32(b[16:], be))
		r.Dst = flow.AddrFromU32(u32(b[20:], be))
		r.Nexthop = flow.AddrFromU32(u32(b[24:], be))
		r.Input = uint32(u16(b[28:], be))
		r.Output = uint32(u16(b[30:], be))
		r.Packets = uint64(u32(b[32:], be))
		r.Octets = uint64(u32(b[36:], be))
		r.First = u32(b[40:], be)
		r.Last = u32(b[44:], be)
		r.SrcPort = u16(b[48:], be)
		r.DstPort = u16(b[50:], be)
		r.Proto, r.ToS, r.TCPFlags = b[52], b[53], b[54]
		if ver != 1 {
			r.EngineType, r.EngineID = b[56], b[57]
			r.SrcMask, r.DstMask = b[58], b[59]
			r.SrcAS = uint32(u16(b[60:], be))
			r.DstAS = uint32(u16(b[62:], be))
		}
		switch ver {
		case 6:
			r.InEncaps, r.OutEncaps = b[64], b[65]
			r.PeerNexthop = flow.AddrFromU32(u32(b[68:], be))
		case 7:
			r.V7Flags = b[55]
			r.RouterSC = flow.AddrFromU32(u32(b[64:], be))
		case 1005:
			if quirk {
				// 0.68 swaps the tags as 16-bit values: only the low
				// half survives, as its first two stored bytes.
				r.SrcTag = uint32(b[64])<<8 | uint32(b[65])
				r.DstTag = uint32(b[68])<<8 | uint32(b[69])
			} else {
				r.SrcTag = u32(b[64:], be)
				r.DstTag = u32(b[68:], be)
			}
		}
		r.SetTimesFromUptime()
	}
}

// v8 field ids for the layout tables.
const (
	fUnixSecs = iota
	fUnixNsecs
	fSysUptime
	fExaddr
	fDFlows
	fDPkts
	fDOctets
	fFirst
	fLast
	fSrcAddr
	fDstAddr
	fSrcMask
	fDstMask
	fSrcAS
	fDstAS
	fInput
	fOutput
	fSrcPort
	fDstPort
	fProt
	fTos
	fEngineType
	fEngineID
	fExtraPkts
	fRouterSC
	fMarkedTos
)

type v8field struct {
	off, size int
	id        int
}

var (
	headA = []v8field{{0, 4, fUnixSecs}, {4, 4, fUnixNsecs}, {8, 4, fSysUptime}, {12, 4, fExaddr}, {16, 4, fDFlows}, {20, 4, fDPkts}, {24, 4, fDOctets}, {28, 4, fFirst}, {32, 4, fLast}}
	headB = []v8field{{0, 4, fUnixSecs}, {4, 4, fUnixNsecs}, {8, 4, fExaddr}, {12, 4, fSysUptime}, {16, 4, fDFlows}, {20, 4, fDPkts}, {24, 4, fDOctets}, {28, 4, fFirst}, {32, 4, fLast}}
	headC = []v8field{{0, 4, fUnixSecs}, {4, 4, fUnixNsecs}, {8, 4, fSysUptime}, {12, 4, fExaddr}, {16, 4, fDPkts}, {20, 4, fDOctets}, {24, 4, fFirst}, {28, 4, fLast}}
)

// v8Layouts: the fields after the head of each aggregation method.
var v8Layouts = [...][]v8field{
	1:  {{36, 2, fSrcAS}, {38, 2, fDstAS}, {40, 2, fInput}, {42, 2, fOutput}, {44, 1, fEngineType}, {45, 1, fEngineID}},
	2:  {{36, 1, fProt}, {40, 2, fSrcPort}, {42, 2, fDstPort}, {44, 1, fEngineType}, {45, 1, fEngineID}},
	3:  {{36, 4, fSrcAddr}, {40, 1, fSrcMask}, {42, 2, fSrcAS}, {44, 2, fInput}, {46, 1, fEngineType}, {47, 1, fEngineID}},
	4:  {{36, 4, fDstAddr}, {40, 1, fDstMask}, {42, 1, fEngineType}, {43, 1, fEngineID}, {44, 2, fDstAS}, {46, 2, fOutput}},
	5:  {{36, 4, fSrcAddr}, {40, 4, fDstAddr}, {44, 1, fDstMask}, {45, 1, fSrcMask}, {46, 1, fEngineType}, {47, 1, fEngineID}, {48, 2, fSrcAS}, {50, 2, fDstAS}, {52, 2, fInput}, {54, 2, fOutput}},
	6:  {{32, 4, fDstAddr}, {36, 4, fExtraPkts}, {40, 4, fRouterSC}, {44, 2, fOutput}, {48, 1, fTos}, {49, 1, fMarkedTos}, {50, 1, fEngineType}, {51, 1, fEngineID}},
	7:  {{32, 4, fDstAddr}, {36, 4, fSrcAddr}, {40, 4, fExtraPkts}, {44, 4, fRouterSC}, {48, 2, fOutput}, {50, 2, fInput}, {52, 1, fTos}, {53, 1, fMarkedTos}, {54, 1, fEngineType}, {55, 1, fEngineID}},
	8:  {{32, 4, fDstAddr}, {36, 4, fSrcAddr}, {40, 4, fExtraPkts}, {44, 4, fRouterSC}, {48, 2, fDstPort}, {50, 2, fSrcPort}, {52, 2, fOutput}, {54, 2, fInput}, {56, 1, fTos}, {57, 1, fMarkedTos}, {58, 1, fEngineType}, {59, 1, fEngineID}, {60, 1, fProt}},
	9:  {{36, 2, fSrcAS}, {38, 2, fDstAS}, {40, 2, fInput}, {42, 2, fOutput}, {44, 1, fEngineType}, {45, 1, fEngineID}, {46, 1, fTos}},
	10: {{36, 2, fSrcPort}, {38, 2, fDstPort}, {40, 2, fInput}, {42, 2, fOutput}, {44, 1, fEngineType}, {45, 1, fEngineID}, {46, 1, fProt}, {47, 1, fTos}},
	11: {{36, 4, fSrcAddr}, {40, 1, fSrcMask}, {41, 1, fTos}, {42, 2, fSrcAS}, {44, 2, fInput}, {46, 1, fEngineType}, {47, 1, fEngineID}},
	12: {{36, 4, fDstAddr}, {40, 2, fOutput}, {42, 2, fDstAS}, {44, 1, fDstMask}, {45, 1, fTos}, {46, 1, fEngineType}, {47, 1, fEngineID}},
	13: {{36, 4, fSrcAddr}, {40, 4, fDstAddr}, {44, 2, fSrcAS}, {46, 2, fDstAS}, {48, 2, fInput}, {50, 2, fOutput}, {52, 1, fDstMask}, {53, 1, fSrcMask}, {54, 1, fEngineType}, {55, 1, fEngineID}, {56, 1, fTos}},
	14: {{36, 4, fSrcAddr}, {40, 4, fDstAddr}, {44, 2, fSrcPort}, {46, 2, fDstPort}, {48, 2, fInput}, {50, 2, fOutput}, {52, 1, fDstMask}, {53, 1, fSrcMask}, {54, 1, fEngineType}, {55, 1, fEngineID}, {56, 1, fTos}, {57, 1, fProt}},
}

func v8Decoder(method uint8, be, quirk bool, mask uint64) func(b []byte, r *flow.Record) {
	head := headA
	switch method {
	case 3, 11, 12:
		head = headB
	case 6, 7, 8:
		head = headC
	}
	fields := append(append([]v8field(nil), head...), v8Layouts[method]...)
	return func(b []byte, r *flow.Record) {
		*r = flow.Record{Fields: mask}
		for _, f := range fields {
			var v uint32
			switch f.size {
			case 1:
				v = uint32(b[f.off])
			case 2:
				v = uint32(u16(b[f.off:], be))
				if quirk && method == 12 && f.id == fDstAS {
					v = uint32(binary.LittleEndian.Uint16(b[f.off:]))
				}
			case 4:
				v = u32(b[f.off:], be)
			}
			setV8(r, f.id, v)
		}
		r.SetTimesFromUptime()
	}
}

func setV8(r *flow.Record, id int, v uint32) {
	switch id {
	case fUnixSecs:
		r.UnixSecs = v
	case fUnixNsecs:
		r.UnixNsecs = v
	case fSysUptime:
		r.SysUptime = v
	case fExaddr:
		r.Exporter = flow.AddrFromU32(v)
	case fDFlows:
		r.Flows = v
	case fDPkts:
		r.Packets = uint64(v)
	case fDOctets:
		r.Octets = uint64(v)
	case fFirst:
		r.First = v
	case fLast:
		r.Last = v
	case fSrcAddr:
		r.Src = flow.AddrFromU32(v)
	case fDstAddr:
		r.Dst = flow.AddrFromU32(v)
	case fSrcMask:
		r.SrcMask = uint8(v)
	case fDstMask:
		r.DstMask = uint8(v)
	case fSrcAS:
		r.SrcAS = v
	case fDstAS:
		r.DstAS = v
	case fInput:
		r.Input = v
	case fOutput:
		r.Output = v
	case fSrcPort:
		r.SrcPort = uint16(v)
	case fDstPort:
		r.DstPort = uint16(v)
	case fProt:
		r.Proto = uint8(v)
	case fTos:
		r.ToS = uint8(v)
	case fEngineType:
		r.EngineType = uint8(v)
	case fEngineID:
		r.EngineID = uint8(v)
	case fExtraPkts:
		r.ExtraPkts = v
	case fRouterSC:
		r.RouterSC = flow.AddrFromU32(v)
	case fMarkedTos:
		r.MarkedToS = uint8(v)
	}
}
