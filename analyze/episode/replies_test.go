package episode

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/flow"
)

// sweep builds a probe to each of n targets from src (proto, port as
// stored: ICMP type<<8|code), each probe 1 s after the last, and lets
// the targets in answer (by index) send their reply from reply(i)
// starting delay ms after the probe. It returns the flows in end order
// and a host-scan finding on the last probe.
func sweepWithAnswers(src netip.Addr, proto uint8, port uint16, n int, answer map[int]bool, reply func(i int, dst netip.Addr, start int64) flow.Record, delay int64) ([]flow.Record, []analyze.Finding) {
	var fl []flow.Record
	for i := range n {
		dst := nth("10.1.0.1", i)
		at := t0 + int64(i)*1000
		fl = append(fl, rec(src, dst, proto, 40000, port, 0, at))
		if answer[i] {
			fl = append(fl, reply(i, dst, at+delay))
		}
	}
	// Stream order is end order.
	for i := 1; i < len(fl); i++ {
		for j := i; j > 0 && fl[j].End < fl[j-1].End; j-- {
			fl[j], fl[j-1] = fl[j-1], fl[j]
		}
	}
	f := analyze.Finding{Detector: "dscan", Kind: analyze.HostScan, Src: src, Index: uint64(len(fl)), Time: fl[len(fl)-1].Start, Rule: "destinations >= D", Threshold: 5, Value: float64(n)}
	return fl, []analyze.Finding{f}
}

func TestRepliedCountsUDPAndEchoAnswers(t *testing.T) {
	src := ip("198.51.100.7")
	answers := map[int]bool{1: true, 4: true, 7: true}
	udpFrom := func(port uint16) func(int, netip.Addr, int64) flow.Record {
		return func(_ int, dst netip.Addr, at int64) flow.Record { return rec(dst, src, 17, port, 40000, 0, at) }
	}
	echo := func(proto uint8, typ uint16) func(int, netip.Addr, int64) flow.Record {
		return func(_ int, dst netip.Addr, at int64) flow.Record { return rec(dst, src, proto, 0, typ<<8, 0, at) }
	}
	cases := []struct {
		name   string
		proto  uint8
		port   uint16
		reply  func(int, netip.Addr, int64) flow.Record
		delay  int64
		answer map[int]bool
		want   int
	}{
		{"udp answered from the probed port", 17, 161, udpFrom(161), 5, answers, 3},
		{"udp without answers", 17, 161, udpFrom(161), 5, nil, 0},
		{"udp answered from another port", 17, 161, udpFrom(53), 5, answers, 0},
		{"udp answer from an ephemeral port", 17, 40001, udpFrom(40001), 5, answers, 0},
		{"udp answer to a service port", 17, 161, func(_ int, dst netip.Addr, at int64) flow.Record { return rec(dst, src, 17, 161, 53, 0, at) }, 5, answers, 0},
		{"udp answer too late", 17, 161, udpFrom(161), 20*1000 + ReplyWindow, map[int]bool{1: true}, 0},
		{"icmp echo answered", 1, 8 << 8, echo(1, 0), 5, answers, 3},
		{"icmp echo met by unreachables", 1, 8 << 8, echo(1, 3), 5, answers, 0},
		{"echo-reply to a UDP sweep", 17, 161, echo(1, 0), 5, answers, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fl, fs := sweepWithAnswers(src, c.proto, c.port, 20, c.answer, c.reply, c.delay)
			a := New(Config{})
			feed(a, fl, fs)
			eps := a.Result().Episodes
			var got *Episode
			for i := range eps {
				if eps[i].Src == src {
					got = &eps[i]
				}
			}
			if got == nil {
				t.Fatalf("no episode of %s in %+v", src, eps)
			}
			if got.Replied != c.want {
				t.Errorf("Replied = %d, want %d", got.Replied, c.want)
			}
		})
	}
}

func TestRepliedICMPv6AndShards(t *testing.T) {
	src := ip("2001:db8::7")
	var fl []flow.Record
	for i := range 10 {
		dst := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 1, 15: byte(i + 1)})
		at := t0 + int64(i)*1000
		fl = append(fl, rec(src, dst, 58, 0, 128<<8, 0, at))
		if i%2 == 0 {
			fl = append(fl, rec(dst, src, 58, 0, 129<<8, 0, at+2))
		}
	}
	f := analyze.Finding{Detector: "dscan", Kind: analyze.HostScan, Src: src, Index: uint64(len(fl)), Time: fl[len(fl)-1].Start}
	// The answers go to the shard that owns the scanner, whichever owns
	// the targets.
	for _, shards := range []int{1, 3} {
		total := 0
		for k := range shards {
			a := New(Config{Shard: analyze.Shard{Index: k, Count: shards}})
			feed(a, fl, []analyze.Finding{f})
			for _, ep := range a.Result().Episodes {
				if ep.Src == src {
					total += ep.Replied
				}
			}
		}
		if total != 5 {
			t.Errorf("%d shards: Replied = %d, want 5", shards, total)
		}
	}
}

// The most scanned ports count every protocol under a number and say
// how many of those flows were ICMP or ICMPv6, also through a part.
func TestTargetPortsCountICMP(t *testing.T) {
	var fl []flow.Record
	var fs []analyze.Finding
	add := func(src netip.Addr, proto uint8, port uint16, n int) {
		for i := range n {
			fl = append(fl, rec(src, nth("10.9.0.1", i), proto, 40000, port, 0x02, t0+int64(len(fl))))
		}
		fs = append(fs, analyze.Finding{Detector: "dscan", Kind: analyze.HostScan, Src: src, Index: uint64(len(fl)), Time: t0})
	}
	add(ip("198.51.100.1"), 1, 8<<8, 30) // ICMP echo-request = 2048
	add(ip("198.51.100.2"), 6, 2048, 5)  // TCP port 2048
	add(ip("2001:db8::3"), 58, 8<<8, 4)  // ICMPv6 type 8 is no echo, but the same number
	check := func(name string, res *Result) {
		t.Helper()
		for _, tg := range res.TargetPorts {
			if tg.Port == 2048 {
				if tg.Flows != 39 || tg.ICMPFlows != 30 || tg.ICMPv6Flows != 4 {
					t.Errorf("%s: port 2048: flows %d, icmp %d, icmpv6 %d; want 39, 30, 4", name, tg.Flows, tg.ICMPFlows, tg.ICMPv6Flows)
				}
				return
			}
		}
		t.Errorf("%s: port 2048 not among %+v", name, res.TargetPorts)
	}
	a := New(Config{})
	feed(a, fl, fs)
	check("one accountant", a.Result())

	var parts []*Accountant
	for k := range 2 {
		p := New(Config{Shard: analyze.Shard{Index: k, Count: 2}})
		feed(p, fl, fs)
		parts = append(parts, p)
	}
	var buf bytes.Buffer
	if err := parts[1].WritePart(&buf); err != nil {
		t.Fatal(err)
	}
	if err := parts[0].MergePart(&buf); err != nil {
		t.Fatal(err)
	}
	check("merged part", parts[0].Result())
}

// The log keeps each (replier, port) pair once however the answers come:
// repeated, interleaved, past many compactions.
func TestReplyLogCompacts(t *testing.T) {
	src := ip("198.51.100.9")
	var fl []flow.Record
	at := t0
	for i := range 300 {
		dst := nth("10.4.0.1", i)
		fl = append(fl, rec(src, dst, 17, 40000, uint16(100+i%7), 0, at))
		at += 10
	}
	// Every third target answers, three times each and out of order,
	// from the port it was probed on; every fifth also from one it was
	// not (1000, never probed).
	want, wantProbes := 0, 0
	for round := range 3 {
		for i := 299; i >= 0; i-- {
			if i%3 != 0 {
				continue
			}
			dst := nth("10.4.0.1", i)
			fl = append(fl, rec(dst, src, 17, uint16(100+i%7), 40000, 0, at))
			if i%5 == 0 {
				fl = append(fl, rec(dst, src, 17, 1000, 40000, 0, at))
			}
			if round == 0 {
				want++
				wantProbes++
			}
			at += 10
		}
	}
	f := analyze.Finding{Detector: "dscan", Kind: analyze.HostScan, Src: src, Index: 300, Time: t0}
	a := New(Config{})
	feed(a, fl, []analyze.Finding{f})
	eps := a.Result().Episodes
	if len(eps) == 0 || eps[0].Src != src {
		t.Fatalf("episodes %+v", eps)
	}
	if eps[0].Replied != want || eps[0].RepliedProbes != wantProbes {
		t.Errorf("replied %d targets, %d probes; want %d, %d", eps[0].Replied, eps[0].RepliedProbes, want, wantProbes)
	}
}

// Compaction keeps exactly the distinct pairs, in order, whatever the
// interleaving of adds and compactions, and at most limit of them.
func TestReplyLogDistinctSorted(t *testing.T) {
	rng := uint64(7)
	next := func() uint64 { rng = rng*6364136223846793005 + 1442695040888963407; return rng >> 33 }
	for _, limit := range []int{65536, 50} {
		var l replyLog
		seen := map[uint64]bool{}
		for range 5000 {
			a, k := uint32(next()%300), portKey(next()%7)
			l.add(flow.AddrFromU32(0x0a000000+a), k, limit)
			seen[uint64(0x0a000000+a)<<32|uint64(k)] = true
		}
		l.compact(limit)
		for i := 1; i < len(l.v4); i++ {
			if l.v4[i-1] >= l.v4[i] {
				t.Fatalf("limit %d: pairs not sorted and distinct at %d", limit, i)
			}
		}
		for _, p := range l.v4 {
			if !seen[p] {
				t.Fatalf("limit %d: pair %#x never added", limit, p)
			}
		}
		if want := min(len(seen), limit); len(l.v4) != want {
			t.Errorf("limit %d: %d pairs kept, want %d", limit, len(l.v4), want)
		}
	}
}
