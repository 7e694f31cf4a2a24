package ftcsv

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"strings"
	"testing"

	"github.com/flowsift/flowsift/flow"
)

func decode(t *testing.T, in []byte, strict bool) ([]flow.Record, []flow.Skip, error) {
	var recs []flow.Record
	var skips []flow.Skip
	err := Format{Strict: strict}.Decode("in.csv", bytes.NewReader(in), func(b flow.Batch) error {
		recs = append(recs, b...)
		return nil
	}, func(s flow.Skip) { skips = append(skips, s) })
	return recs, skips, err
}

const sample = "#:unix_secs,unix_nsecs,sysuptime,exaddr,dpkts,doctets,first,last,srcaddr,dstaddr,srcport,dstport,prot\n" +
	"1700000000,123456789,3600000,127.0.0.1,10,1500,3590000,3599000,192.168.1.10,172.16.5.20,51515,443,6\n" +
	"garbage\n" +
	"1700000000,0,3600000,127.0.0.1,x,1500,3590000,3599000,192.168.1.10,172.16.5.20,51515,443,6\n" +
	"1700000000,0,3600000,127.0.0.1,1,1,3590000,3599000,192.168.1.300,172.16.5.20,1,2,17\n" +
	"1700000001,0,3600000,127.0.0.1,2,80,3599000,3600000,10.0.0.1,10.0.0.2,53,1024,17\n"

func TestBadRowsCountedWithLines(t *testing.T) {
	recs, skips, err := decode(t, []byte(sample), false)
	if err != nil || len(recs) != 2 {
		t.Fatalf("recs %d err %v", len(recs), err)
	}
	// lines 3-5 are bad and consecutive: one skip covering three rows.
	if len(skips) != 1 || skips[0].Line != 3 || skips[0].Count != 3 || skips[0].Reason != "bad-row" {
		t.Fatalf("skips %+v", skips)
	}
	r := recs[0]
	if r.Start != 1699999990123 || r.End != 1699999999123 || r.Src.String() != "192.168.1.10" || r.Packets != 10 || r.Fields&flow.FSrcPort == 0 || r.Fields&flow.FSrcAS != 0 {
		t.Fatalf("record %+v", r)
	}
	_, _, err = decode(t, []byte(sample), true)
	if err == nil || !strings.Contains(err.Error(), "in.csv: line 3") {
		t.Fatalf("strict: %v", err)
	}
}

// gzipped returns b gzip-compressed.
func gzipped(b []byte) []byte {
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(b)
	zw.Close()
	return z.Bytes()
}

func TestGzipAndWriterQuirks(t *testing.T) {
	gz := bytes.NewBuffer(gzipped([]byte(sample)))
	if !(Format{}).Sniff(gz.Bytes()[:min(512, gz.Len())], "x") || !(Format{}).Sniff([]byte(sample), "x") || (Format{}).Sniff([]byte("hello"), "x") {
		t.Fatal("sniff")
	}
	recs, _, err := decode(t, gz.Bytes(), false)
	if err != nil || len(recs) != 2 {
		t.Fatalf("gzip: %d %v", len(recs), err)
	}
	// v6's peer_nexthop is labelled nexthop; marked_tos comes before extra_pkts.
	r := recs[0]
	r.MarkedToS, r.ExtraPkts = 59, 305419941
	var out bytes.Buffer
	w := NewWriter(&out, flow.FNexthop|flow.FPeerNexthop|flow.FExtraPkts|flow.FMarkedTos)
	w.Write(flow.Batch{r})
	w.Flush()
	if out.String() != "#:nexthop,nexthop,extra_pkts,marked_tos\n0.0.0.0,0.0.0.0,59,305419941\n" {
		t.Fatalf("writer: %q", out.String())
	}
	back, _, _ := decode(t, out.Bytes(), false)
	if back[0].MarkedToS != 59 || back[0].ExtraPkts != 305419941 || back[0].Fields != flow.FNexthop|flow.FPeerNexthop|flow.FExtraPkts|flow.FMarkedTos {
		t.Fatalf("read back %+v", back[0])
	}
}

// A gzip CSV cut short keeps every row before the cut and reports the
// break as "truncated" at the line it happened on, as the flow-tools reader
// does with a cut file; before, the whole file was unreadable. In strict
// mode the break is an error.
func TestGzipCutShortKeepsRowsBeforeTheCut(t *testing.T) {
	var plain strings.Builder
	plain.WriteString("#:unix_secs,unix_nsecs,sysuptime,exaddr,dpkts,doctets,first,last,srcaddr,dstaddr,srcport,dstport,prot\n")
	const rows = 20000
	for i := range rows {
		fmt.Fprintf(&plain, "1700000001,0,3600000,127.0.0.1,2,80,3599000,3600000,10.0.%d.%d,10.0.0.2,53,1024,17\n", i/256, i%256)
	}
	z := gzipped([]byte(plain.String()))
	cut := z[:len(z)*2/3]

	recs, skips, err := decode(t, cut, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) < rows/2 || len(recs) >= rows {
		t.Fatalf("%d rows read of %d, cut at two thirds of the gzip stream", len(recs), rows)
	}
	if len(skips) != 1 || skips[0].Reason != "truncated" || skips[0].Line != int64(len(recs))+2 || skips[0].Path != "in.csv" {
		t.Fatalf("skips %+v; want one truncated skip at line %d", skips, len(recs)+2)
	}
	for i, r := range recs {
		if want := fmt.Sprintf("10.0.%d.%d", i/256, i%256); r.Src.String() != want {
			t.Fatalf("row %d: src %s, want %s", i+1, r.Src, want)
		}
	}
	if _, _, err := decode(t, cut, true); err == nil || !strings.Contains(err.Error(), "in.csv") {
		t.Fatalf("strict: err = %v, want an error naming the file", err)
	}
}

// A gzip CSV whose checksum fails at the end is read (its rows cannot be
// taken back) and reported as corrupt, saying its rows may be wrong.
func TestGzipChecksumFailureIsReported(t *testing.T) {
	b := gzipped([]byte(sample))
	b[len(b)-8] ^= 0xFF // the CRC-32 in the trailer
	recs, skips, err := decode(t, b, false)
	if err != nil || len(recs) != 2 {
		t.Fatalf("%d rows, err %v", len(recs), err)
	}
	last := skips[len(skips)-1]
	if last.Reason != "corrupt" || !strings.Contains(last.Detail, "checksum") || !strings.Contains(last.Detail, "may hold wrong values") {
		t.Fatalf("skips %+v", skips)
	}
}
