// Package flow holds the one flow record every reader produces and every
// analyser consumes. It sits below ingest, analyze and report so that data
// can flow one way (ingest → analyze → report) without the analysers having
// to import any reader.
package flow

import (
	"net/netip"
)

// Field bits: the same bit numbers flow-export's -m mask uses, so a record
// can say which fields its source really had and CSV writers can print
// exactly those columns.
const (
	FUnixSecs    uint64 = 0x0000000001
	FUnixNsecs   uint64 = 0x0000000002
	FSysUptime   uint64 = 0x0000000004
	FExaddr      uint64 = 0x0000000008
	FDFlows      uint64 = 0x0000000010
	FDPkts       uint64 = 0x0000000020
	FDOctets     uint64 = 0x0000000040
	FFirst       uint64 = 0x0000000080
	FLast        uint64 = 0x0000000100
	FEngineType  uint64 = 0x0000000200
	FEngineID    uint64 = 0x0000000400
	FSrcAddr     uint64 = 0x0000001000
	FDstAddr     uint64 = 0x0000002000
	FNexthop     uint64 = 0x0000010000
	FInput       uint64 = 0x0000020000
	FOutput      uint64 = 0x0000040000
	FSrcPort     uint64 = 0x0000080000
	FDstPort     uint64 = 0x0000100000
	FProt        uint64 = 0x0000200000
	FTos         uint64 = 0x0000400000
	FTCPFlags    uint64 = 0x0000800000
	FSrcMask     uint64 = 0x0001000000
	FDstMask     uint64 = 0x0002000000
	FSrcAS       uint64 = 0x0004000000
	FDstAS       uint64 = 0x0008000000
	FInEncaps    uint64 = 0x0010000000
	FOutEncaps   uint64 = 0x0020000000
	FPeerNexthop uint64 = 0x0040000000
	FRouterSC    uint64 = 0x0080000000
	FExtraPkts   uint64 = 0x0100000000
	FMarkedTos   uint64 = 0x0200000000
	FSrcTag      uint64 = 0x0400000000
	FDstTag      uint64 = 0x0800000000
)

// TCP flag bits as they appear in tcp_flags.
const (
	TCPFin = 0x01
	TCPSyn = 0x02
	TCPRst = 0x04
	TCPPsh = 0x08
	TCPAck = 0x10
	TCPUrg = 0x20
	TCPEce = 0x40
	TCPCwr = 0x80
)

// Record is one flow. Raw flow-tools fields are kept as stored (UnixSecs,
// UnixNsecs, SysUptime, First, Last) because flow-dscan compatibility and
// flow-export -f2 output need them verbatim; Start and End are the absolute
// times every other consumer should use.
//
// Readers that have no uptime clock (nfdump CSV, Parquet written by other
// tools) set SysUptime = 0, UnixSecs/UnixNsecs to the Unix epoch (0) and
// First/Last to the low 32 bits of Start/End; use Start/End, not the raw
// fields, unless Fields says the raw fields are present.
type Record struct {
	// The fields every detector reads come first, in the record's first
	// two 64-byte cache lines: the times and addresses, then the counts,
	// ports, protocol, flags and the set of fields present (and, in the
	// same line, the raw times and a v8 record's flow count). A batch is
	// 4 MB, more than a core's L2, and each analyser streams through it;
	// with these fields spread over all four lines of the 256-byte
	// record, every analyser pulled twice the lines it reads.

	// Start and End are milliseconds since 1970-01-01 UTC. For flow-tools
	// input they are computed with the 32-bit modular uptime difference
	// (wrap-corrected), see FTStartMS for flow-tools' own formula.
	Start, End int64
	Src, Dst   netip.Addr

	Packets, Octets  uint64
	SrcPort, DstPort uint16
	Proto, ToS       uint8
	TCPFlags         uint8
	SrcMask, DstMask uint8
	EngineType       uint8
	EngineID         uint8
	InEncaps         uint8
	OutEncaps        uint8
	MarkedToS        uint8
	V7Flags          uint8 // byte 55 of a v7 record
	// Fields is the set of F* bits the source really carried (the
	// ingest's address check reads it for every record, so it shares the
	// second line).
	Fields uint64

	UnixSecs, UnixNsecs, SysUptime uint32
	First, Last                    uint32

	Flows          uint32 // dFlows of v8 aggregations; 0 where the source has none
	ExtraPkts      uint32
	SrcTag, DstTag uint32
	SrcAS, DstAS   uint32
	Input, Output  uint32 // ifIndex; 16 bits in flow-tools, wider in nfdump

	Exporter    netip.Addr
	Nexthop     netip.Addr
	PeerNexthop netip.Addr
	RouterSC    netip.Addr
}

// FTStartMS is flow-tools' own start time: unsigned 64-bit arithmetic, no
// wrap correction (a First above SysUptime lands 2^32 ms in the future).
// flow-dscan's ts= and time fields use it.
func (r *Record) FTStartMS() uint64 {
	return uint64(r.UnixSecs)*1000 + uint64(r.UnixNsecs)/1000000 - uint64(r.SysUptime) + uint64(r.First)
}

// FTEndMS is FTStartMS for the Last field.
func (r *Record) FTEndMS() uint64 {
	return uint64(r.UnixSecs)*1000 + uint64(r.UnixNsecs)/1000000 - uint64(r.SysUptime) + uint64(r.Last)
}

// SetTimesFromUptime fills Start and End from the raw uptime fields with the
// wrap-corrected formula: age = (SysUptime - First) mod 2^32.
func (r *Record) SetTimesFromUptime() {
	base := int64(r.UnixSecs)*1000 + int64(r.UnixNsecs/1000000)
	r.Start = base - int64(r.SysUptime-r.First)
	r.End = base - int64(r.SysUptime-r.Last)
}

// SetUptimeFromTimes fills the raw flow-tools fields from Start and End for
// records that came without them, so that code needing flow-tools' view
// (the compat engine, a flow-tools writer) computes the same instants:
// UnixSecs/UnixNsecs hold End, SysUptime is chosen so that First/Last land
// on Start/End.
func (r *Record) SetUptimeFromTimes() {
	secs := r.End / 1000
	ms := r.End % 1000
	if ms < 0 {
		secs--
		ms += 1000
	}
	r.UnixSecs = uint32(secs)
	r.UnixNsecs = uint32(ms) * 1000000
	dur := r.End - r.Start
	if dur < 0 {
		dur = 0
	}
	// Uptime large enough that First does not wrap.
	r.SysUptime = uint32(dur) + 1000
	r.Last = r.SysUptime
	r.First = r.SysUptime - uint32(dur)
}

// DurationMS is Last - First in 32-bit unsigned arithmetic, as flow-tools
// computes it (correct across an uptime wrap).
func (r *Record) DurationMS() uint32 { return r.Last - r.First }

// Is4 reports whether both endpoints are IPv4.
func (r *Record) Is4() bool { return r.Src.Is4() && r.Dst.Is4() }

// AddrU32 returns an IPv4 address as the uint32 flow-tools stores
// (first octet most significant); 0 for anything that is not IPv4.
func AddrU32(a netip.Addr) uint32 {
	if !a.Is4() {
		return 0
	}
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// AddrFromU32 is the inverse of AddrU32.
func AddrFromU32(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
