package nfdump

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"testing/iotest"
	"time"
	_ "time/tzdata" // America/New_York on a system without zone files

	"github.com/flowsift/flowsift/flow"
)

func decode(t *testing.T, f Format, in []byte) ([]flow.Record, []flow.Skip, error) {
	t.Helper()
	var recs []flow.Record
	var skips []flow.Skip
	err := f.Decode("in.csv", bytes.NewReader(in), func(b flow.Batch) error {
		recs = append(recs, b...)
		return nil
	}, func(s flow.Skip) { skips = append(skips, s) })
	return recs, skips, err
}

// testdata/nfdump-1.7.1.csv is real `TZ=UTC nfdump -r FILE -o csv` output for
// five flows sent to nfcapd as NetFlow v5 (see internal/nfv5), Summary block
// included.
func TestRealOutput(t *testing.T) {
	in, err := os.ReadFile("testdata/nfdump-1.7.1.csv")
	if err != nil {
		t.Fatal(err)
	}
	if !(Format{}).Sniff(in[:min(512, len(in))], "x") || (Format{}).Sniff([]byte("#:unix_secs"), "x") {
		t.Fatal("sniff")
	}
	recs, skips, err := decode(t, Format{Strict: true}, in)
	if err != nil || len(skips) != 0 || len(recs) != 5 {
		t.Fatalf("recs %d skips %v err %v", len(recs), skips, err)
	}
	r := recs[0]
	// Sent: start 1700000000123, end 1700000009456; nfdump prints whole
	// seconds (22:13:20, 22:13:29) and the exact duration 9.333, so the
	// reader keeps the duration and starts as early as both seconds allow.
	if r.Start != 1700000000000 || r.End != 1700000009333 {
		t.Errorf("times %d %d", r.Start, r.End)
	}
	if r.Src.String() != "192.168.1.10" || r.Dst.String() != "172.16.5.20" || r.SrcPort != 40000 || r.DstPort != 443 ||
		r.Proto != 6 || r.TCPFlags != 0x1b || r.Packets != 10 || r.Octets != 1500 || r.ToS != 4 || r.Input != 2 || r.Output != 3 ||
		r.SrcAS != 64512 || r.DstAS != 65001 || r.Nexthop.String() != "10.0.0.254" || r.Exporter.String() != "127.0.0.1" {
		t.Errorf("record %+v", r)
	}
	if recs[1].Proto != 17 || recs[2].Proto != 1 || recs[4].Proto != 47 {
		t.Errorf("protocols %d %d %d", recs[1].Proto, recs[2].Proto, recs[4].Proto)
	}
	// Raw flow-tools fields describe the same instants.
	for _, r := range recs {
		if int64(r.FTStartMS()) != r.Start || int64(r.FTEndMS()) != r.End || r.Fields&flow.FSrcAddr == 0 {
			t.Errorf("raw fields %+v", r)
		}
	}
}

const head = "ts,te,td,sa,da,sp,dp,pr,flg,ipkt,ibyt,ra\n"

func TestBadRowsIPv6AndZone(t *testing.T) {
	in := head +
		"2024-01-02 03:04:05,2024-01-02 03:04:06,1.500,2001:db8::1,2001:db8::2,53,5353,UDP,........,1,80,::1\n" +
		"2024-01-02 03:04:05,2024-01-02 03:04:06,1.500,10.0.0.999,10.0.0.2,53,53,UDP,........,1,80,127.0.0.1\n" +
		"2024-01-02 03:04:05,2024-01-02 03:04:06,1.500,10.0.0.1,10.0.0.2,53,53,NOPE,........,1,80,127.0.0.1\n" +
		"short,row\n" +
		"2024-01-02 03:04:05,2024-01-02 03:04:06,0.250,10.0.0.1,10.0.0.2,53,53,58,0x12,7,800,127.0.0.1\n" +
		"\nSummary\nflows,bytes,packets,avg_bps,avg_pps,avg_bpp\n2,880,8,1,1,1\n"
	recs, skips, err := decode(t, Format{}, []byte(in))
	if err != nil || len(recs) != 2 {
		t.Fatalf("recs %d err %v", len(recs), err)
	}
	if len(skips) != 1 || skips[0].Line != 3 || skips[0].Count != 3 || skips[0].Reason != "bad-row" || !strings.Contains(skips[0].Detail, "(sa)") {
		t.Fatalf("skips %+v", skips)
	}
	if recs[0].Src.String() != "2001:db8::1" || recs[0].End-recs[0].Start != 1500 {
		t.Errorf("v6 %+v", recs[0])
	}
	// 0.250 s within 03:04:05..03:04:06: start as early as both seconds allow.
	if recs[1].Proto != 58 || recs[1].TCPFlags != 0x12 || recs[1].End != time.Date(2024, 1, 2, 3, 4, 6, 0, time.UTC).UnixMilli() {
		t.Errorf("row 6 %+v", recs[1])
	}
	_, _, err = decode(t, Format{Strict: true}, []byte(in))
	if err == nil || !strings.Contains(err.Error(), "in.csv: line 3") {
		t.Fatalf("strict: %v", err)
	}
	// Local-time strings: a zone moves the instants.
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	r2, _, _ := decode(t, Format{Loc: ny}, []byte(head+"2024-01-02 03:04:05,2024-01-02 03:04:05,0.000,10.0.0.1,10.0.0.2,1,2,TCP,......S.,1,40,127.0.0.1\n"))
	if r2[0].Start != time.Date(2024, 1, 2, 8, 4, 5, 0, time.UTC).UnixMilli() || r2[0].TCPFlags != flow.TCPSyn {
		t.Errorf("zone %+v", r2[0])
	}
	if _, _, err := decode(t, Format{}, []byte("ts,te,sa\n")); err == nil || !strings.Contains(err.Error(), "in.csv") {
		t.Errorf("missing columns: %v", err)
	}
}

// A read error in the middle of the file (a disk error, a broken pipe)
// keeps the rows before it and reports the rest as one "corrupt" skip at
// the line it broke on; before, the whole file was unreadable.
func TestReadErrorKeepsRowsBeforeIt(t *testing.T) {
	in, err := os.ReadFile("testdata/nfdump-1.7.1.csv")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(in), "\n")
	upTo := len(lines[0]) + len(lines[1]) + len(lines[2]) + len(lines[3])/2 // the header, two rows, half a third
	var recs []flow.Record
	var skips []flow.Skip
	broken := io.MultiReader(bytes.NewReader(in[:upTo]), iotest.ErrReader(errors.New("input/output error")))
	err = Format{}.Decode("in.csv", broken, func(b flow.Batch) error {
		recs = append(recs, b...)
		return nil
	}, func(s flow.Skip) { skips = append(skips, s) })
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || len(skips) != 1 || skips[0].Reason != "corrupt" || skips[0].Line != 4 || !strings.Contains(skips[0].Detail, "input/output error") {
		t.Fatalf("%d rows, skips %+v; want 2 rows and a corrupt skip at line 4", len(recs), skips)
	}
}
