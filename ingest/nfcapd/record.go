package nfcapd

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/flowsift/flowsift/flow"
)

// Record types found in data blocks (nfdump's id.h).
const (
	recExtensionMap  = 2
	recExporterInfo  = 7
	recExporterStat  = 8
	recSamplerLegacy = 9
	recCommon        = 10
	recV3            = 11
	recNbar          = 12
	recIfName        = 13
	recVrfName       = 14
	recSampler       = 15
)

// Element types of a V3 record (nfdump's nfxV3.h) that map to flow fields.
const (
	exGenericFlow  = 1
	exIPv4Flow     = 2
	exIPv6Flow     = 3
	exFlowMisc     = 4
	exCntFlow      = 5
	exASRouting    = 7
	exBGPNextHopV4 = 8
	exBGPNextHopV6 = 9
	exIPNextHopV4  = 10
	exIPNextHopV6  = 11
	exIPReceivedV4 = 12
	exIPReceivedV6 = 13
	exSamplerInfo  = 18
)

const v3FlagSampled = 2

// fieldsV3 are the fields every V3 flow record gives (its generic flow
// element); the raw flow-tools time fields are filled from Start/End by
// SetUptimeFromTimes, so writers keep the times.
const fieldsV3 = flow.FUnixSecs | flow.FUnixNsecs | flow.FSysUptime | flow.FFirst | flow.FLast |
	flow.FDPkts | flow.FDOctets | flow.FSrcPort | flow.FDstPort | flow.FProt | flow.FTCPFlags | flow.FTos |
	flow.FEngineType | flow.FEngineID

// Exporter is one exporter info record: the device the flows came from,
// as nfcapd numbered it (SysID) in this file.
type Exporter struct {
	SysID   uint16
	Version uint32 // NetFlow version (5, 9, 10 = IPFIX; 9999 = sFlow)
	Addr    netip.Addr
	ID      uint32 // engine / observation domain id
}

// Sampler is one sampler record: how an exporter sampled its packets.
type Sampler struct {
	ExporterSysID uint16
	ID            int64
	Algorithm     uint16
	// PacketInterval and SpaceInterval: of every PacketInterval +
	// SpaceInterval packets, PacketInterval were sampled (1 and 99: 1 in
	// 100). The legacy record has only Interval, stored as SpaceInterval
	// with PacketInterval 1.
	PacketInterval, SpaceInterval uint32
}

// recordError is a damaged record inside a block that decompressed
// cleanly: the block's remaining records cannot be framed.
type recordError struct {
	at     int // byte offset in the decompressed block
	detail string
}

// decodeState is what the records of one file share: its exporters and
// samplers, and the counts of what was not a flow.
type decodeState struct {
	exporters map[uint16]Exporter
	samplers  []Sampler
	// sampled counts the flows whose record says its exporter sampled
	// (V3 flag, or a sampler element), per exporter sysid.
	sampled map[uint16]int64
	noFlow  int64            // V3 records without a generic flow element
	unknown map[uint16]int64 // record types not read, by type
	// maps are the extension maps of an nfdump 1.6 file, by id.
	maps map[uint16][]uint16
	// aggregated is set once a record carries a flow count (nfdump -a
	// output): the statistics record then counts flows, not records.
	aggregated bool
}

func newDecodeState() *decodeState {
	return &decodeState{exporters: map[uint16]Exporter{}, sampled: map[uint16]int64{}, unknown: map[uint16]int64{}}
}

// recordAt returns the type and bytes of record i of nrec, which starts at
// offset p of a block's data: both layouts begin a record with its type
// and size (16 bits each, little-endian).
func recordAt(data []byte, p int, i, nrec uint32) (uint16, []byte, *recordError) {
	le := binary.LittleEndian
	if len(data)-p < 4 {
		return 0, nil, &recordError{p, fmt.Sprintf("record %d of %d starts past the block's %d bytes", i+1, nrec, len(data))}
	}
	typ := le.Uint16(data[p:])
	size := int(le.Uint16(data[p+2:]))
	if size < 4 || size > len(data)-p {
		return typ, nil, &recordError{p, fmt.Sprintf("record %d of %d (type %d) has size %d, %d bytes left in the block", i+1, nrec, typ, size, len(data)-p)}
	}
	return typ, data[p : p+size], nil
}

// exporterInfo notes an exporter record (the same in both layouts).
func (st *decodeState) exporterInfo(rec []byte) {
	le := binary.LittleEndian
	if len(rec) >= 32 {
		e := Exporter{Version: le.Uint32(rec[4:]), SysID: le.Uint16(rec[26:]), ID: le.Uint32(rec[28:])}
		e.Addr = ipAddrT(rec[8:24], le.Uint16(rec[24:]))
		st.exporters[e.SysID] = e
	}
}

// samplerLegacy notes a sampler record of nfdump 1.6's kind, which 1.7
// files may still hold.
func (st *decodeState) samplerLegacy(rec []byte) {
	le := binary.LittleEndian
	if len(rec) >= 16 {
		st.samplers = append(st.samplers, Sampler{ID: int64(int32(le.Uint32(rec[4:]))), SpaceInterval: le.Uint32(rec[8:]),
			PacketInterval: 1, Algorithm: le.Uint16(rec[12:]), ExporterSysID: le.Uint16(rec[14:])})
	}
}

// decodeBlockV3 appends the flows of one type-3 data block to dst.
func (st *decodeState) decodeBlockV3(data []byte, nrec uint32, dst []flow.Record) ([]flow.Record, *recordError) {
	le := binary.LittleEndian
	p := 0
	for i := uint32(0); i < nrec; i++ {
		typ, rec, rerr := recordAt(data, p, i, nrec)
		if rerr != nil {
			return dst, rerr
		}
		size := len(rec)
		switch typ {
		case recV3:
			dst = append(dst, flow.Record{})
			ok, err := st.decodeV3(rec, &dst[len(dst)-1])
			if err != "" {
				return dst[:len(dst)-1], &recordError{p, fmt.Sprintf("record %d of %d: %s", i+1, nrec, err)}
			}
			if !ok {
				dst = dst[:len(dst)-1]
				st.noFlow++
			}
		case recExporterInfo:
			st.exporterInfo(rec)
		case recSampler:
			if size >= 24 {
				st.samplers = append(st.samplers, Sampler{ExporterSysID: le.Uint16(rec[4:]), Algorithm: le.Uint16(rec[6:]),
					ID: int64(le.Uint64(rec[8:])), PacketInterval: le.Uint32(rec[16:]), SpaceInterval: le.Uint32(rec[20:])})
			}
		case recSamplerLegacy:
			st.samplerLegacy(rec)
		case recExporterStat, recNbar, recIfName, recVrfName:
			// Statistics and names, no flows.
		default:
			st.unknown[typ]++
		}
		p += size
	}
	return dst, nil
}

// ipAddrT reads nfdump's ip_addr_t (16 bytes: two host-order 64-bit
// halves for IPv6; an IPv4 address as a host-order 32-bit word at byte 8
// on a little-endian machine) given the address family (2 = AF_INET).
func ipAddrT(b []byte, family uint16) netip.Addr {
	if family == 2 {
		return u32Addr(binary.LittleEndian.Uint32(b[8:]))
	}
	if family == 10 || family == 28 || family == 30 || family == 24 { // AF_INET6 on Linux, *BSD, macOS
		return v6Addr(b)
	}
	return netip.Addr{}
}

func u32Addr(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// v6Addr reads an IPv6 address stored as two host-order 64-bit halves,
// the high half first.
func v6Addr(b []byte) netip.Addr {
	var a [16]byte
	binary.BigEndian.PutUint64(a[0:], binary.LittleEndian.Uint64(b[0:]))
	binary.BigEndian.PutUint64(a[8:], binary.LittleEndian.Uint64(b[8:]))
	return netip.AddrFrom16(a)
}

// decodeV3 fills r from one V3 record. ok is false for a record without
// a generic flow element (no times, no counters: not a flow); err says
// what is wrong with a damaged record.
func (st *decodeState) decodeV3(rec []byte, r *flow.Record) (ok bool, err string) {
	le := binary.LittleEndian
	if len(rec) < 12 {
		return false, fmt.Sprintf("V3 record of %d bytes, shorter than its header", len(rec))
	}
	nel := int(le.Uint16(rec[4:]))
	r.EngineType, r.EngineID = rec[6], rec[7]
	sysid := le.Uint16(rec[8:])
	sampled := rec[10]&v3FlagSampled != 0
	p := rec[12:]
	fields := uint64(0)
	haveExporter := false
	for e := 0; e < nel; e++ {
		if len(p) < 4 {
			return false, fmt.Sprintf("element %d of %d starts past the record's end", e+1, nel)
		}
		typ := le.Uint16(p)
		n := int(le.Uint16(p[2:]))
		if n < 4 || n > len(p) {
			return false, fmt.Sprintf("element %d of %d (type %d) has length %d, %d bytes left in the record", e+1, nel, typ, n, len(p))
		}
		b := p[4:n]
		p = p[n:]
		short := func(need int) string {
			return fmt.Sprintf("element type %d of %d bytes, needs %d", typ, len(b), need)
		}
		switch typ {
		case exGenericFlow:
			if len(b) < 48 {
				return false, short(48)
			}
			r.Start = int64(le.Uint64(b[0:]))
			r.End = int64(le.Uint64(b[8:]))
			r.Packets = le.Uint64(b[24:])
			r.Octets = le.Uint64(b[32:])
			r.SrcPort = le.Uint16(b[40:])
			r.DstPort = le.Uint16(b[42:])
			r.Proto = b[44]
			r.TCPFlags = b[45]
			r.ToS = b[47]
			fields |= fieldsV3
		case exIPv4Flow:
			if len(b) < 8 {
				return false, short(8)
			}
			r.Src = u32Addr(le.Uint32(b[0:]))
			r.Dst = u32Addr(le.Uint32(b[4:]))
			fields |= flow.FSrcAddr | flow.FDstAddr
		case exIPv6Flow:
			if len(b) < 32 {
				return false, short(32)
			}
			r.Src = v6Addr(b[0:])
			r.Dst = v6Addr(b[16:])
			fields |= flow.FSrcAddr | flow.FDstAddr
		case exFlowMisc:
			if len(b) < 12 {
				return false, short(12)
			}
			r.Input = le.Uint32(b[0:])
			r.Output = le.Uint32(b[4:])
			r.SrcMask, r.DstMask = b[8], b[9]
			r.MarkedToS = b[11]
			fields |= flow.FInput | flow.FOutput | flow.FSrcMask | flow.FDstMask | flow.FMarkedTos
		case exCntFlow:
			if len(b) < 8 {
				return false, short(8)
			}
			r.Flows = uint32(min(le.Uint64(b[0:]), 0xffffffff))
			st.aggregated = true
			fields |= flow.FDFlows
		case exASRouting:
			if len(b) < 8 {
				return false, short(8)
			}
			r.SrcAS, r.DstAS = le.Uint32(b[0:]), le.Uint32(b[4:])
			fields |= flow.FSrcAS | flow.FDstAS
		case exBGPNextHopV4:
			if len(b) < 4 {
				return false, short(4)
			}
			r.PeerNexthop = u32Addr(le.Uint32(b))
			fields |= flow.FPeerNexthop
		case exBGPNextHopV6:
			if len(b) < 16 {
				return false, short(16)
			}
			r.PeerNexthop = v6Addr(b)
			fields |= flow.FPeerNexthop
		case exIPNextHopV4:
			if len(b) < 4 {
				return false, short(4)
			}
			r.Nexthop = u32Addr(le.Uint32(b))
			fields |= flow.FNexthop
		case exIPNextHopV6:
			if len(b) < 16 {
				return false, short(16)
			}
			r.Nexthop = v6Addr(b)
			fields |= flow.FNexthop
		case exIPReceivedV4:
			if len(b) < 4 {
				return false, short(4)
			}
			r.Exporter = u32Addr(le.Uint32(b))
			haveExporter = true
		case exIPReceivedV6:
			if len(b) < 16 {
				return false, short(16)
			}
			r.Exporter = v6Addr(b)
			haveExporter = true
		case exSamplerInfo:
			sampled = true
		}
	}
	if fields&flow.FDPkts == 0 {
		return false, ""
	}
	if !haveExporter {
		if e, ok := st.exporters[sysid]; ok && e.Addr.IsValid() {
			r.Exporter = e.Addr
			haveExporter = true
		}
	}
	if haveExporter {
		fields |= flow.FExaddr
	}
	if sampled {
		st.sampled[sysid]++
	}
	r.Fields = fields
	r.SetUptimeFromTimes()
	return true, ""
}
