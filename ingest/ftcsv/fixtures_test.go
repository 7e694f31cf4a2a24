package ftcsv

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/internal/fixture"
)

// roundTrip reads a flow-export CSV and writes it back with the mask of its
// own "#:" line; the bytes must not change.
func roundTrip(t *testing.T, path string, raw []byte) {
	var recs []flow.Record
	var mask uint64
	err := Format{Strict: true}.Decode(path, bytes.NewReader(raw), func(b flow.Batch) error {
		for i := range b {
			mask = b[i].Fields
		}
		recs = append(recs, b...)
		return nil
	}, func(s flow.Skip) { t.Errorf("skip %+v", s) })
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) == 0 {
		t.Fatalf("%s: no records", path)
	}
	var out bytes.Buffer
	w := NewWriter(&out, mask)
	if err := w.Write(recs); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	plain := raw
	if raw[0] == 0x1f {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if plain, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(out.Bytes(), plain) {
		a, b := out.Bytes(), plain
		i := 0
		for i < len(a) && i < len(b) && a[i] == b[i] {
			i++
		}
		t.Fatalf("%s: round trip differs at byte %d of %d/%d: got %q want %q", path, i, len(a), len(b), a[i:min(i+80, len(a))], b[i:min(i+80, len(b))])
	}
}

func TestFixturesRoundTripByteIdentical(t *testing.T) {
	td := fixture.FlowTools(t)
	files, _ := filepath.Glob(filepath.Join(td, "formats", "v*.export-f2.csv.gz"))
	files = append(files, filepath.Join(td, "csv", "ft-tree.export-f2.csv.gz"))
	if len(files) < 10 {
		t.Fatalf("only %d fixture CSVs found", len(files))
	}
	for _, p := range files {
		t.Run(filepath.Base(p), func(t *testing.T) {
			raw, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if !(Format{}).Sniff(raw[:min(512, len(raw))], p) {
				t.Fatal("not sniffed")
			}
			roundTrip(t, p, raw)
		})
	}
}

// Masks: every subset written by the writer reads back to the same fields
// and the header line follows flow-export's fixed order.
func TestMasks(t *testing.T) {
	r := flow.Record{UnixSecs: 1700000000, UnixNsecs: 5e8, SysUptime: 9000, First: 1000, Last: 8000,
		Src: flow.AddrFromU32(0x0a000001), Dst: flow.AddrFromU32(0x0a000002), SrcPort: 1, DstPort: 80, Proto: 6,
		Packets: 3, Octets: 120, ExtraPkts: 7, MarkedToS: 9, SrcTag: 65538, PeerNexthop: flow.AddrFromU32(0x01020304)}
	cases := []struct {
		mask uint64
		want string
	}{
		{flow.FSrcAddr | flow.FDstAddr, "#:srcaddr,dstaddr\n10.0.0.1,10.0.0.2\n"},
		{flow.FDstPort | flow.FUnixSecs, "#:unix_secs,dstport\n1700000000,80\n"},
		{flow.FExtraPkts, "#:extra_pkts\n7\n"},
		{flow.FMarkedTos | flow.FSrcTag, "#:marked_tos,src_tag\n9,65538\n"},
		{flow.FPeerNexthop, "#:nexthop\n1.2.3.4\n"},
		{0, "#:\n"},
	}
	for _, c := range cases {
		var out bytes.Buffer
		w := NewWriter(&out, c.mask)
		if c.mask != 0 {
			w.Write(flow.Batch{r})
		}
		w.Flush()
		if out.String() != c.want {
			t.Errorf("mask %#x: got %q want %q", c.mask, out.String(), c.want)
		}
		if c.mask == 0 || c.mask == flow.FPeerNexthop {
			continue // a lone "nexthop" label reads as nexthop, as flow-import would
		}
		recs, _, err := decode(t, out.Bytes(), true)
		if err != nil || len(recs) != 1 || recs[0].Fields != c.mask {
			t.Errorf("mask %#x read back: %v %+v", c.mask, err, recs)
		}
	}
	// Times: with unix_secs/sysuptime/first/last present Start/End are set;
	// with only unix_secs they equal the export time.
	recs, _, _ := decode(t, []byte("#:unix_secs,unix_nsecs,sysuptime,first,last\n1700000000,500000000,9000,1000,8000\n"), true)
	if recs[0].Start != 1700000000500-8000 || recs[0].End != 1700000000500-1000 {
		t.Errorf("times %+v", recs[0])
	}
	recs, _, _ = decode(t, []byte("#:unix_secs,srcaddr\n1700000000,10.0.0.1\n"), true)
	if recs[0].Start != 1700000000000 || recs[0].End != 1700000000000 {
		t.Errorf("export-time only %+v", recs[0])
	}
}
