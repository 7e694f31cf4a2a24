package eval

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flowsift/flowsift/analyze/assess"
	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/ingest/parquet"
	"github.com/flowsift/flowsift/pass"
)

// reportFindings runs the report's pass (pass.RunReport, every detector
// with its defaults, the accountant, the host roles) over recs, sorted by
// end time and written to a Parquet file (which holds IPv6 too), and
// returns the assessment as `flowsift report` makes it.
func reportFindings(t *testing.T, recs []flow.Record, local []netip.Prefix) *assess.Result {
	t.Helper()
	path := filepath.Join(t.TempDir(), "flows.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := parquet.NewWriter(f, parquet.WriterOptions{})
	if err == nil {
		err = w.Write(recs)
	}
	if err == nil {
		err = w.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	cfg := pass.DefaultConfiguration()
	cfg.Local = local
	res, err := pass.RunReport(context.Background(), cfg, pass.Inputs{Paths: []string{path}})
	if err != nil {
		t.Fatal(err)
	}
	return res.Assessment
}

func rec(t int64, src string, sp uint16, dst string, dp uint16, proto, flags uint8) flow.Record {
	return flow.Record{Start: t, End: t + 1, Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst),
		SrcPort: sp, DstPort: dp, Proto: proto, TCPFlags: flags, Packets: 1, Octets: 60,
		Fields: flow.FSrcAddr | flow.FDstAddr | flow.FSrcPort | flow.FDstPort | flow.FProt | flow.FTCPFlags | flow.FDPkts | flow.FDOctets}
}

// TestProtocolsLikeIPv4TCP: a host sweep and a vertical scan are found,
// counted and given the same severity whether they are IPv4 or IPv6,
// TCP, UDP or ICMP (a sweep: ICMP has no ports to scan vertically).
func TestProtocolsLikeIPv4TCP(t *testing.T) {
	type scan struct {
		name, src string
		recs      []flow.Record
	}
	sweep := func(name, src, dstFmt string, proto uint8, port uint16, flags uint8) scan {
		var r []flow.Record
		for i := range 300 {
			r = append(r, rec(int64(i)*100, src, 40000, fmt.Sprintf(dstFmt, i/250, i%250+1), port, proto, flags))
		}
		return scan{name, src, r}
	}
	vertical := func(name, src, dst string, proto uint8, flags uint8) scan {
		var r []flow.Record
		for i := range 40 {
			r = append(r, rec(int64(i)*15_000, src, 40000, dst, uint16(20+i), proto, flags))
		}
		return scan{name, src, r}
	}
	scans := []scan{
		sweep("IPv4 TCP sweep", "192.0.2.1", "10.1.%d.%d", 6, 22, flow.TCPSyn),
		sweep("IPv6 TCP sweep", "2001:db8::1", "fd00:1::%d:%d", 6, 22, flow.TCPSyn),
		sweep("IPv4 UDP sweep", "192.0.2.2", "10.2.%d.%d", 17, 161, 0),
		sweep("IPv6 UDP sweep", "2001:db8::2", "fd00:2::%d:%d", 17, 161, 0),
		sweep("IPv4 ICMP sweep", "192.0.2.3", "10.3.%d.%d", 1, 0x0800, 0),
		sweep("IPv6 ICMPv6 sweep", "2001:db8::3", "fd00:3::%d:%d", 58, 128<<8, 0),
		vertical("IPv4 TCP vertical, slow", "192.0.2.4", "10.4.0.1", 6, flow.TCPSyn),
		vertical("IPv6 TCP vertical, slow", "2001:db8::4", "fd00:4::1", 6, flow.TCPSyn),
		vertical("IPv4 UDP vertical, slow", "192.0.2.5", "10.5.0.1", 17, 0),
		vertical("IPv6 UDP vertical, slow", "2001:db8::5", "fd00:5::1", 17, 0),
	}
	var all []flow.Record
	for _, s := range scans {
		all = append(all, s.recs...)
	}
	slices.SortStableFunc(all, func(a, b flow.Record) int { return int(a.End - b.End) })
	res := reportFindings(t, all, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")})
	by := map[netip.Addr]assess.Finding{}
	for _, f := range res.Findings {
		by[f.Src] = f
	}
	for _, s := range scans {
		f, ok := by[netip.MustParseAddr(s.src)]
		if !ok || f.HeldBack || f.Severity != assess.Medium {
			t.Errorf("%s (%s): found %v, held back %v, severity %q", s.name, s.src, ok, f.HeldBack, f.Severity)
			continue
		}
		want := "a host scan"
		if strings.Contains(s.name, "vertical") {
			want = "a vertical scan"
		}
		if !strings.HasSuffix(f.Reason, want) {
			t.Errorf("%s: reason %q, want it to end in %q", s.name, f.Reason, want)
		}
	}
}
