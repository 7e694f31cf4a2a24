// Package ipfix encodes flows as IPFIX (RFC 7011) export messages, for
// tests that send them to a real collector (nfcapd) on loopback: IPv4 and
// IPv6 flows with millisecond start and end times, which NetFlow v5
// cannot carry.
package ipfix

import (
	"encoding/binary"
	"fmt"

	"github.com/flowsift/flowsift/flow"
)

// Template ids of the two record layouts, and the information elements
// each carries (IANA numbers, length in bytes).
const (
	template4 = 256
	template6 = 257
)

type field struct{ ie, size uint16 }

var (
	common = []field{
		{7, 2}, {11, 2}, // sourceTransportPort, destinationTransportPort
		{4, 1}, {6, 1}, {5, 1}, // protocolIdentifier, tcpControlBits, ipClassOfService
		{2, 8}, {1, 8}, // packetDeltaCount, octetDeltaCount
		{152, 8}, {153, 8}, // flowStartMilliseconds, flowEndMilliseconds
		{10, 4}, {14, 4}, // ingressInterface, egressInterface
		{16, 4}, {17, 4}, // bgpSourceAsNumber, bgpDestinationAsNumber
	}
	fields4 = append([]field{{8, 4}, {12, 4}, {15, 4}, {9, 1}, {13, 1}}, common...)      // addresses, next hop, prefix lengths
	fields6 = append([]field{{27, 16}, {28, 16}, {62, 16}, {29, 1}, {30, 1}}, common...) // the same for IPv6
)

func recordLen(fs []field) int {
	n := 0
	for _, f := range fs {
		n += int(f.size)
	}
	return n
}

// PerMessage is how many records a message carries (it stays far below
// a 1,500-byte datagram).
const PerMessage = 8

// Encode turns recs into IPFIX messages of observation domain domain:
// each message holds both templates and one data set of up to PerMessage
// records of one address family (a run of flows of the other family
// starts a new message). Export time is the latest End of the message's
// flows, rounded up to the second; the sequence number counts data records.
func Encode(recs []flow.Record, domain uint32) ([][]byte, error) {
	var out [][]byte
	var seq uint32
	for i := 0; i < len(recs); {
		v6 := recs[i].Src.Is6()
		j := i
		for j < len(recs) && j-i < PerMessage && recs[j].Src.Is6() == v6 {
			if recs[j].Src.Is6() != recs[j].Dst.Is6() || !recs[j].Src.IsValid() || !recs[j].Dst.IsValid() {
				return nil, fmt.Errorf("ipfix: flow %d: addresses %v -> %v of mixed or no family", j, recs[j].Src, recs[j].Dst)
			}
			j++
		}
		out = append(out, message(recs[i:j], v6, seq, domain))
		seq += uint32(j - i)
		i = j
	}
	return out, nil
}

func message(recs []flow.Record, v6 bool, seq, domain uint32) []byte {
	be := binary.BigEndian
	b := make([]byte, 16, 1500)
	// Template set: both templates.
	tset := len(b)
	b = append(b, 0, 2, 0, 0)
	for _, t := range []struct {
		id uint16
		fs []field
	}{{template4, fields4}, {template6, fields6}} {
		b = be.AppendUint16(b, t.id)
		b = be.AppendUint16(b, uint16(len(t.fs)))
		for _, f := range t.fs {
			b = be.AppendUint16(b, f.ie)
			b = be.AppendUint16(b, f.size)
		}
	}
	be.PutUint16(b[tset+2:], uint16(len(b)-tset))
	// Data set.
	id := uint16(template4)
	if v6 {
		id = template6
	}
	dset := len(b)
	b = be.AppendUint16(b, id)
	b = be.AppendUint16(b, 0)
	var last int64
	for i := range recs {
		r := &recs[i]
		last = max(last, r.End)
		if v6 {
			for _, a := range []([16]byte){r.Src.As16(), r.Dst.As16(), r.Nexthop.As16()} {
				b = append(b, a[:]...)
			}
		} else {
			nh := [4]byte{}
			if r.Nexthop.Is4() {
				nh = r.Nexthop.As4()
			}
			for _, a := range [][4]byte{r.Src.As4(), r.Dst.As4(), nh} {
				b = append(b, a[:]...)
			}
		}
		b = append(b, r.SrcMask, r.DstMask)
		b = be.AppendUint16(b, r.SrcPort)
		b = be.AppendUint16(b, r.DstPort)
		b = append(b, r.Proto, r.TCPFlags, r.ToS)
		b = be.AppendUint64(b, r.Packets)
		b = be.AppendUint64(b, r.Octets)
		b = be.AppendUint64(b, uint64(r.Start))
		b = be.AppendUint64(b, uint64(r.End))
		b = be.AppendUint32(b, r.Input)
		b = be.AppendUint32(b, r.Output)
		b = be.AppendUint32(b, r.SrcAS)
		b = be.AppendUint32(b, r.DstAS)
	}
	be.PutUint16(b[dset+2:], uint16(len(b)-dset))
	// Message header.
	be.PutUint16(b[0:], 10)
	be.PutUint16(b[2:], uint16(len(b)))
	be.PutUint32(b[4:], uint32(last/1000+1))
	be.PutUint32(b[8:], seq)
	be.PutUint32(b[12:], domain)
	return b
}
