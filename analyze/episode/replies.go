package episode

import (
	"net/netip"
	"slices"
	"sync"

	"github.com/flowsift/flowsift/flow"
)

// A probe that finds something shows in the target's flows, not always in
// the scanner's: a UDP service or a host answering ping sends a flow of its
// own back, and so does an open TCP port to a SYN scan (nmap -sS), whose
// half-open probes never carry ACK, answered or not. (A connect scan's
// answered probes carry ACK in its own flows: that shows in NoAckFlows.)
// The accountant therefore notes, on the scanner's open run, every UDP flow,
// every ICMP/ICMPv6 echo-reply and every TCP SYN-ACK sent to it, and at
// the episode's end counts the distinct targets that answered a probe the
// run did send: a target it sent to, from a port (or ICMP echo-request) it
// probed. SYN-ACKs are noted only while none of the run's TCP flows carried
// ACK: every client's run gets a SYN-ACK from each server it connects to,
// and its own flows carry ACK.
//
// ReplyWindow bounds how late an answer may start after the scanner's
// latest flow. Flows arrive in end-time order, so an answer seen while the
// run is open started no earlier than the run; a reply that starts more
// than ReplyWindow after the scanner's latest flow answers nothing of it.
const ReplyWindow = 60_000 // ms

// Probe keys an answer stands for: an echo-reply answers an echo-request
// (type 8 / ICMPv6 128, code 0, in the port's high byte as stored).
var (
	echoRequest4 = mkPortKey(1, 8<<8)
	echoRequest6 = mkPortKey(58, 128<<8)
)

// A UDP or TCP answer comes from a port below maxReplyPort and goes to one from
// minScannerPort up. A server's clients write to it from ephemeral ports
// (from 32768 on Linux, 49152 elsewhere) to its service port, and every
// such flow looked like an answer to the reply the server had sent: on a
// diverse 1M-flow tree 17 % of the flows were UDP from below 32768, all
// to 326 addresses (servers), whose logs filled with their clients.
// Scanners send from a high port (nmap and masscan pick one at random),
// so the answers to a scan sent from a port below 1024 (nmap -g 53, an
// NTP peer's 123) are not counted.
const (
	maxReplyPort   = 32768
	minScannerPort = 1024
)

// replyProbe returns the probe key a flow would answer, or false when the
// flow cannot be an answer to a UDP, TCP SYN or ICMP echo probe.
func replyProbe(r *flow.Record) (portKey, bool) {
	switch r.Proto {
	case 6:
		// An open port's SYN-ACK; a closed one's RST-ACK is no find.
		if r.TCPFlags&(flow.TCPSyn|flow.TCPAck) != flow.TCPSyn|flow.TCPAck || r.SrcPort >= maxReplyPort || r.DstPort < minScannerPort {
			return 0, false
		}
		return mkPortKey(6, r.SrcPort), true
	case 17:
		if r.SrcPort >= maxReplyPort || r.DstPort < minScannerPort {
			return 0, false
		}
		return mkPortKey(17, r.SrcPort), true
	case 1:
		if r.DstPort>>8 == 0 {
			return echoRequest4, true
		}
	case 58:
		if r.DstPort>>8 == 129 {
			return echoRequest6, true
		}
	}
	return 0, false
}

var replyScratch = sync.Pool{New: func() any { return new([]uint64) }}

// minReplyLog is the length from which a reply log is compacted. Nearly
// every source is a client whose few servers answer it over and over
// (its resolver, its NTP server): a short log keeps each such client to
// a few entries.
const minReplyLog = 8

// replyLog holds a run's possible answers as (replier, probe key) pairs,
// distinct once compacted. IPv4 pairs pack into a uint64 so that a busy
// client's DNS replies cost 8 bytes a distinct pair and a sort now and
// then, not a map insert per flow.
type replyLog struct {
	v4     []uint64 // addr<<32 | key; sorted and distinct up to sorted
	sorted int
	v6     map[replyKey6]struct{}
	// recent is the last IPv4 pair added: a client's resolver answers
	// it again and again, and those repeats skip the log altogether.
	recent uint64
}

type replyKey6 struct {
	addr netip.Addr
	key  portKey
}

// add notes an answer; at most limit distinct pairs are kept, so that the
// counts made of them are lower bounds past it.
func (l *replyLog) add(from netip.Addr, key portKey, limit int) {
	if from.Is4() {
		p := uint64(flow.AddrU32(from))<<32 | uint64(key)
		if p == l.recent && l.v4 != nil {
			return
		}
		l.recent = p
		l.v4 = append(l.v4, p)
		if len(l.v4) >= max(minReplyLog, 2*l.sorted) {
			l.compact(limit)
		}
		return
	}
	k := replyKey6{from, key}
	if _, ok := l.v6[k]; ok {
		return
	}
	if l.sorted+len(l.v6) >= limit {
		return
	}
	if l.v6 == nil {
		l.v6 = make(map[replyKey6]struct{})
	}
	l.v6[k] = struct{}{}
}

// compact sorts and dedupes the IPv4 pairs. Past the cap it keeps the
// smallest pairs, not the first ones: answers only ever add to a count
// that the report reads as "at least", so which ones are lost matters
// less than a bounded log.
func (l *replyLog) compact(limit int) {
	if len(l.v4) == l.sorted {
		return
	}
	// The head is sorted already: sort the tail and merge the two in
	// place, from the back, with the tail copied aside (a fresh slice a
	// compaction was a quarter of the accountant's garbage).
	tail := l.v4[l.sorted:]
	slices.Sort(tail)
	if l.sorted > 0 {
		sp := replyScratch.Get().(*[]uint64)
		t := append((*sp)[:0], tail...)
		i, j, w := l.sorted-1, len(t)-1, len(l.v4)-1
		for ; j >= 0; w-- {
			if i >= 0 && l.v4[i] > t[j] {
				l.v4[w] = l.v4[i]
				i--
			} else {
				l.v4[w] = t[j]
				j--
			}
		}
		*sp = t
		replyScratch.Put(sp)
	}
	l.v4 = slices.Compact(l.v4)
	if room := max(0, limit-len(l.v6)); len(l.v4) > room {
		l.v4 = l.v4[:room]
	}
	l.sorted = len(l.v4)
}

// answered counts the distinct repliers that are among the run's targets
// and answered a probe key the run sent, and the distinct (replier, key)
// pairs among those: a vertical scan of one host that found two open
// ports has one replier and two answered probes. Call after the run's
// target and port sets are compacted.
func (l *replyLog) answered(r *run, limit int) (targets, probes int) {
	l.compact(limit)
	probed := func(k portKey) bool {
		_, ok := slices.BinarySearch(r.ports.keys, uint32(k))
		return ok
	}
	last, have := uint32(0), false
	for _, p := range l.v4 {
		a, k := uint32(p>>32), portKey(uint32(p))
		if _, ok := slices.BinarySearch(r.dsts.v4.keys, a); !ok || !probed(k) {
			continue
		}
		probes++
		if !have || a != last {
			targets++
			last, have = a, true
		}
	}
	seen := map[netip.Addr]bool{}
	for p := range l.v6 {
		if _, ok := r.dsts.v6[p.addr]; !ok || !probed(p.key) {
			continue
		}
		probes++
		if !seen[p.addr] {
			seen[p.addr] = true
			targets++
		}
	}
	return targets, probes
}
