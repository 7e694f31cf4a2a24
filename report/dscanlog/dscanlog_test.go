package dscanlog

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/analyze/dscan"
	"github.com/flowsift/flowsift/flow"
)

// lines records each Write separately: flow-dscan's output goes to syslog
// as one message per line.
type lines struct {
	got   []string
	fail  int // fail the n-th write only (1-based); 0 = never
	calls int
}

func (l *lines) Write(p []byte) (int, error) {
	if l.calls++; l.calls == l.fail {
		return 0, errors.New("disk full")
	}
	l.got = append(l.got, string(p))
	return len(p), nil
}

// a flow whose flow-tools start is 2026-01-02 03:04:05.007 UTC and end
// 0.993 s later.
func rec() flow.Record {
	r := flow.Record{Src: netip.MustParseAddr("192.0.2.7"), Dst: netip.MustParseAddr("10.0.0.9"),
		SrcPort: 40000, DstPort: 22, Proto: 6, TCPFlags: 0x12, Packets: 3, Octets: 180, Input: 1, Output: 2}
	start := time.Date(2026, 1, 2, 3, 4, 5, 7e6, time.UTC).UnixMilli()
	r.Start, r.End = start, start+993
	r.SetUptimeFromTimes()
	return r
}

func TestStamp(t *testing.T) {
	ms := uint64(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixMilli())
	for _, c := range []struct {
		add  uint64
		want string
	}{{7, "0102.03:04:05.7   "}, {70, "0102.03:04:05.70  "}, {700, "0102.03:04:05.700 "}, {0, "0102.03:04:05.0   "}} {
		if got := Stamp(ms+c.add, time.UTC); got != c.want {
			t.Errorf("Stamp(+%d ms) = %q, want %q", c.add, got, c.want)
		}
	}
	// The zone is the writer's: 03:04 UTC is 04:04 in Berlin in January.
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err == nil && !strings.HasPrefix(Stamp(ms, berlin), "0102.04:04:05") {
		t.Errorf("Stamp in Berlin = %q", Stamp(ms, berlin))
	}
}

func TestEventLines(t *testing.T) {
	r := rec()
	var out lines
	w := &Writer{Out: &out, Loc: time.UTC}
	events := []dscan.Event{
		{Kind: dscan.EvFinding, Finding: analyze.Finding{Kind: analyze.HostScan, Src: r.Src, Flow: r}},
		{Kind: dscan.EvFinding, Finding: analyze.Finding{Kind: analyze.PortScan, Src: r.Src, Dst: r.Dst, Flow: r}},
		{Kind: dscan.EvAgerReset},
		{Kind: dscan.EvFinding, Finding: analyze.Finding{Kind: analyze.ExcessiveOctets, Src: r.Src, Flow: r}},
		{Kind: dscan.EvFinding, Finding: analyze.Finding{Kind: analyze.ExcessivePkts, Src: r.Src, Flow: r}},
	}
	for _, ev := range events {
		if err := w.Event(ev); err != nil {
			t.Fatal(err)
		}
	}
	ts := "1767323045" // 2026-01-02T03:04:05Z
	dump := []string{
		"flow-dscan: 0102.03:04:05.7   \n",
		"flow-dscan: 0102.03:04:06.0   \n",
		"flow-dscan:    1 192.0.2.7        40000    2 10.0.0.9            22   6  2          3        180\n",
	}
	want := append([]string{
		"flow-dscan: host scan: ip=192.0.2.7 ts=" + ts + " start=0102.03:04:05.7   \n",
		"flow-dscan: port scan: src=192.0.2.7 dst=10.0.0.9 ts=" + ts + " start=0102.03:04:05.7   \n",
		"flow-dscan: ager: reset hash run\n",
		"flow-dscan: " + DumpHeader + "\n", // once, before the first dump
	}, append(dump, dump...)...)
	if len(out.got) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(out.got), len(want), strings.Join(out.got, ""))
	}
	for i := range want {
		if out.got[i] != want[i] {
			t.Errorf("line %d:\n got %q\nwant %q", i+1, out.got[i], want[i])
		}
	}
}

// A failed write is reported, whichever line of a flow dump it hits.
func TestEventWriteError(t *testing.T) {
	r := rec()
	ev := dscan.Event{Kind: dscan.EvFinding, Finding: analyze.Finding{Kind: analyze.ExcessiveTime, Src: r.Src, Flow: r}}
	for n := 1; n <= 4; n++ {
		w := &Writer{Out: &lines{fail: n}, Loc: time.UTC}
		if err := w.Event(ev); err == nil {
			t.Errorf("write %d of 4 failed but Event returned nil", n)
		}
	}
}
