package nfcapd

import (
	"encoding/binary"
	"fmt"

	"github.com/flowsift/flowsift/flow"
)

// nfdump 1.6 (layout 1, data block type 2): a flow is a common record
// whose optional fields follow in the order of an extension map, a record
// of its own that comes before the flows that use it. The extension ids
// and their sizes are those of nfdump 1.6's nfx.h; every size is fixed
// by the id, so an extension flowsift does not use is stepped over.
var v1ExtSize = [...]uint8{
	4: 4, 5: 8, // input/output ifIndex, 2 or 4 bytes each
	6: 4, 7: 8, // src/dst AS, 2 or 4 bytes each
	8: 4,         // dst tos, direction, src mask, dst mask
	9: 4, 10: 16, // next hop v4 / v6
	11: 4, 12: 16, // BGP next hop v4 / v6
	13: 4,        // VLANs
	14: 4, 15: 8, // out packets
	16: 4, 17: 8, // out bytes
	18: 4, 19: 8, // aggregated flows
	20: 16, 21: 16, // MAC addresses
	22: 40,        // MPLS labels
	23: 4, 24: 16, // router (exporter) IP v4 / v6
	25: 4,         // router id: engine type and id
	26: 8,         // BGP adjacent AS
	27: 8,         // time received
	37: 20,        // NSEL common
	38: 4,         // NSEL xlate ports
	39: 8, 40: 32, // NSEL xlate addresses
	41: 24,         // NSEL ACL
	42: 24, 43: 72, // NSEL user names
	45: 24, // latency
	46: 12, // NEL common
	48: 8,  // port block allocation
}

// Common record flags.
const (
	v1FlagIPv6    = 1
	v1FlagPkts64  = 2
	v1FlagBytes64 = 4
	v1FlagSampled = 128
)

// commonHdrLen is the common record's fixed part before its data.
const commonHdrLen = 32

// decodeBlockV1 appends the flows of one nfdump 1.6 data block to dst.
func (st *decodeState) decodeBlockV1(data []byte, nrec uint32, dst []flow.Record) ([]flow.Record, *recordError) {
	le := binary.LittleEndian
	p := 0
	for i := uint32(0); i < nrec; i++ {
		typ, rec, rerr := recordAt(data, p, i, nrec)
		if rerr != nil {
			return dst, rerr
		}
		size := len(rec)
		switch typ {
		case recCommon:
			dst = append(dst, flow.Record{})
			if err := st.decodeCommon(rec, &dst[len(dst)-1]); err != "" {
				return dst[:len(dst)-1], &recordError{p, fmt.Sprintf("record %d of %d: %s", i+1, nrec, err)}
			}
		case recExtensionMap:
			if size < 8 {
				return dst, &recordError{p, fmt.Sprintf("record %d of %d: extension map of %d bytes", i+1, nrec, size)}
			}
			id := le.Uint16(rec[4:])
			var ids []uint16
			for q := 8; q+2 <= size; q += 2 {
				x := le.Uint16(rec[q:])
				if x == 0 {
					break
				}
				ids = append(ids, x)
			}
			if st.maps == nil {
				st.maps = map[uint16][]uint16{}
			}
			st.maps[id] = ids
		case recExporterInfo:
			st.exporterInfo(rec)
		case recSamplerLegacy:
			st.samplerLegacy(rec)
		case recExporterStat:
		default:
			st.unknown[typ]++
		}
		p += size
	}
	return dst, nil
}

// decodeCommon fills r from one nfdump 1.6 common record.
func (st *decodeState) decodeCommon(rec []byte, r *flow.Record) string {
	le := binary.LittleEndian
	if len(rec) < commonHdrLen {
		return fmt.Sprintf("common record of %d bytes, shorter than its header", len(rec))
	}
	flags := rec[4]
	mapID := le.Uint16(rec[6:])
	ids, ok := st.maps[mapID]
	if !ok {
		return fmt.Sprintf("common record refers to extension map %d, not defined before it", mapID)
	}
	r.Start = int64(le.Uint32(rec[12:]))*1000 + int64(le.Uint16(rec[8:]))
	r.End = int64(le.Uint32(rec[16:]))*1000 + int64(le.Uint16(rec[10:]))
	r.TCPFlags, r.Proto, r.ToS = rec[21], rec[22], rec[23]
	r.SrcPort, r.DstPort = le.Uint16(rec[24:]), le.Uint16(rec[26:])
	sysid := le.Uint16(rec[28:])
	fields := fieldsV3 | flow.FSrcAddr | flow.FDstAddr
	p := rec[commonHdrLen:]
	need := func(n int) bool { return len(p) >= n }
	if flags&v1FlagIPv6 != 0 {
		if !need(32) {
			return "record ends inside its IPv6 addresses"
		}
		r.Src, r.Dst = v6Addr(p[0:]), v6Addr(p[16:])
		p = p[32:]
	} else {
		if !need(8) {
			return "record ends inside its addresses"
		}
		r.Src, r.Dst = u32Addr(le.Uint32(p[0:])), u32Addr(le.Uint32(p[4:]))
		p = p[8:]
	}
	for _, c := range []struct {
		flag uint8
		dst  *uint64
	}{{v1FlagPkts64, &r.Packets}, {v1FlagBytes64, &r.Octets}} {
		if flags&c.flag != 0 {
			if !need(8) {
				return "record ends inside its counters"
			}
			*c.dst = le.Uint64(p)
			p = p[8:]
		} else {
			if !need(4) {
				return "record ends inside its counters"
			}
			*c.dst = uint64(le.Uint32(p))
			p = p[4:]
		}
	}
	haveExporter := false
	for _, id := range ids {
		if int(id) >= len(v1ExtSize) || v1ExtSize[id] == 0 {
			return fmt.Sprintf("extension map %d names extension %d, unknown to nfdump 1.6", mapID, id)
		}
		n := int(v1ExtSize[id])
		if !need(n) {
			return fmt.Sprintf("record ends inside extension %d", id)
		}
		b := p[:n]
		p = p[n:]
		switch id {
		case 4:
			r.Input, r.Output = uint32(le.Uint16(b)), uint32(le.Uint16(b[2:]))
			fields |= flow.FInput | flow.FOutput
		case 5:
			r.Input, r.Output = le.Uint32(b), le.Uint32(b[4:])
			fields |= flow.FInput | flow.FOutput
		case 6:
			r.SrcAS, r.DstAS = uint32(le.Uint16(b)), uint32(le.Uint16(b[2:]))
			fields |= flow.FSrcAS | flow.FDstAS
		case 7:
			r.SrcAS, r.DstAS = le.Uint32(b), le.Uint32(b[4:])
			fields |= flow.FSrcAS | flow.FDstAS
		case 8:
			r.MarkedToS, r.SrcMask, r.DstMask = b[0], b[2], b[3]
			fields |= flow.FMarkedTos | flow.FSrcMask | flow.FDstMask
		case 9:
			r.Nexthop = u32Addr(le.Uint32(b))
			fields |= flow.FNexthop
		case 10:
			r.Nexthop = v6Addr(b)
			fields |= flow.FNexthop
		case 11:
			r.PeerNexthop = u32Addr(le.Uint32(b))
			fields |= flow.FPeerNexthop
		case 12:
			r.PeerNexthop = v6Addr(b)
			fields |= flow.FPeerNexthop
		case 18:
			r.Flows = le.Uint32(b)
			st.aggregated = true
			fields |= flow.FDFlows
		case 19:
			r.Flows = uint32(min(le.Uint64(b), 0xffffffff))
			st.aggregated = true
			fields |= flow.FDFlows
		case 23:
			r.Exporter, haveExporter = u32Addr(le.Uint32(b)), true
		case 24:
			r.Exporter, haveExporter = v6Addr(b), true
		case 25:
			r.EngineType, r.EngineID = b[2], b[3]
		}
	}
	if !haveExporter {
		if e, ok := st.exporters[sysid]; ok && e.Addr.IsValid() {
			r.Exporter, haveExporter = e.Addr, true
		}
	}
	if haveExporter {
		fields |= flow.FExaddr
	}
	if flags&v1FlagSampled != 0 {
		st.sampled[sysid]++
	}
	r.Fields = fields
	r.SetUptimeFromTimes()
	return ""
}
