package ftfile_test

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"math/bits"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/ingest/ftfile"
	"github.com/flowsift/flowsift/internal/fixture"
)

// readAll decodes a whole file.
func readAll(t testing.TB, path string, opt ftfile.Options) ([]flow.Record, *ftfile.Header, []flow.Skip) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd, err := ftfile.NewReader(f, path, opt)
	if err != nil {
		t.Fatal(err)
	}
	var out []flow.Record
	buf := make([]flow.Record, 1000)
	for {
		n, err := rd.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return out, rd.Header(), rd.Skips()
}

// csvField is one flow-export column: its -m bit and how to print the
// record's value the way flow-export does.
type csvField struct {
	bit  uint64
	name string // as in the #: line
	get  func(r *flow.Record) string
}

func num[T uint8 | uint16 | uint32 | uint64](v T) string { return strconv.FormatUint(uint64(v), 10) }

func addr(a netip.Addr) string {
	if !a.IsValid() {
		return "0.0.0.0"
	}
	return a.String()
}

// exportFields in flow-export's fixed bit order.
var exportFields = []csvField{
	{flow.FUnixSecs, "unix_secs", func(r *flow.Record) string { return num(r.UnixSecs) }},
	{flow.FUnixNsecs, "unix_nsecs", func(r *flow.Record) string { return num(r.UnixNsecs) }},
	{flow.FSysUptime, "sysuptime", func(r *flow.Record) string { return num(r.SysUptime) }},
	{flow.FExaddr, "exaddr", func(r *flow.Record) string { return addr(r.Exporter) }},
	{flow.FDFlows, "dflows", func(r *flow.Record) string { return num(r.Flows) }},
	{flow.FDPkts, "dpkts", func(r *flow.Record) string { return num(r.Packets) }},
	{flow.FDOctets, "doctets", func(r *flow.Record) string { return num(r.Octets) }},
	{flow.FFirst, "first", func(r *flow.Record) string { return num(r.First) }},
	{flow.FLast, "last", func(r *flow.Record) string { return num(r.Last) }},
	{flow.FEngineType, "engine_type", func(r *flow.Record) string { return num(r.EngineType) }},
	{flow.FEngineID, "engine_id", func(r *flow.Record) string { return num(r.EngineID) }},
	{flow.FSrcAddr, "srcaddr", func(r *flow.Record) string { return addr(r.Src) }},
	{flow.FDstAddr, "dstaddr", func(r *flow.Record) string { return addr(r.Dst) }},
	{flow.FNexthop, "nexthop", func(r *flow.Record) string { return addr(r.Nexthop) }},
	{flow.FInput, "input", func(r *flow.Record) string { return num(r.Input) }},
	{flow.FOutput, "output", func(r *flow.Record) string { return num(r.Output) }},
	{flow.FSrcPort, "srcport", func(r *flow.Record) string { return num(r.SrcPort) }},
	{flow.FDstPort, "dstport", func(r *flow.Record) string { return num(r.DstPort) }},
	{flow.FProt, "prot", func(r *flow.Record) string { return num(r.Proto) }},
	{flow.FTos, "tos", func(r *flow.Record) string { return num(r.ToS) }},
	{flow.FTCPFlags, "tcp_flags", func(r *flow.Record) string { return num(r.TCPFlags) }},
	{flow.FSrcMask, "src_mask", func(r *flow.Record) string { return num(r.SrcMask) }},
	{flow.FDstMask, "dst_mask", func(r *flow.Record) string { return num(r.DstMask) }},
	{flow.FSrcAS, "src_as", func(r *flow.Record) string { return num(r.SrcAS) }},
	{flow.FDstAS, "dst_as", func(r *flow.Record) string { return num(r.DstAS) }},
	{flow.FInEncaps, "in_encaps", func(r *flow.Record) string { return num(r.InEncaps) }},
	{flow.FOutEncaps, "out_encaps", func(r *flow.Record) string { return num(r.OutEncaps) }},
	{flow.FPeerNexthop, "nexthop", func(r *flow.Record) string { return addr(r.PeerNexthop) }}, // flow-export's label
	{flow.FRouterSC, "router_sc", func(r *flow.Record) string { return addr(r.RouterSC) }},
	{flow.FExtraPkts, "extra_pkts", func(r *flow.Record) string { return num(r.ExtraPkts) }},
	{flow.FMarkedTos, "marked_tos", func(r *flow.Record) string { return num(r.MarkedToS) }},
	{flow.FSrcTag, "src_tag", func(r *flow.Record) string { return num(r.SrcTag) }},
	{flow.FDstTag, "dst_tag", func(r *flow.Record) string { return num(r.DstTag) }},
}

// exportCSV is a parsed flow-export -f2 file.
type exportCSV struct {
	cols []csvField // in value order
	rows [][]string
}

// parseExportCSV reads flow-export -f2 text and maps each value column
// to a field, undoing the two labelling bugs of 0.68: the second
// "nexthop" is peer_nexthop, and "extra_pkts,marked_tos" values come
// marked_tos first.
func parseExportCSV(t testing.TB, r io.Reader) *exportCSV {
	t.Helper()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "#:") {
		t.Fatal("CSV has no #: line")
	}
	names := strings.Split(strings.TrimPrefix(sc.Text(), "#:"), ",")
	out := &exportCSV{}
	next := 0 // exportFields index: labels are in bit order
	for _, n := range names {
		for next < len(exportFields) && exportFields[next].name != n {
			next++
		}
		if next == len(exportFields) {
			t.Fatalf("column %q out of bit order in %v", n, names)
		}
		out.cols = append(out.cols, exportFields[next])
		next++
	}
	for i := 0; i+1 < len(out.cols); i++ {
		if out.cols[i].bit == flow.FExtraPkts && out.cols[i+1].bit == flow.FMarkedTos {
			out.cols[i], out.cols[i+1] = out.cols[i+1], out.cols[i]
		}
	}
	for sc.Scan() {
		row := strings.Split(sc.Text(), ",")
		if len(row) != len(out.cols) {
			t.Fatalf("row %d has %d values, header %d", len(out.rows)+1, len(row), len(out.cols))
		}
		out.rows = append(out.rows, row)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func (c *exportCSV) mask() uint64 {
	var m uint64
	for _, f := range c.cols {
		m |= f.bit
	}
	return m
}

// compare checks every record field by field against the CSV rows; fix
// may rewrite the expected value of a column (the README's corrections).
func (c *exportCSV) compare(t *testing.T, recs []flow.Record, fix func(bit uint64, want string) string) {
	t.Helper()
	if len(recs) != len(c.rows) {
		t.Fatalf("%d records, CSV has %d", len(recs), len(c.rows))
	}
	bad := 0
	for i := range recs {
		for j, f := range c.cols {
			want := c.rows[i][j]
			if fix != nil {
				want = fix(f.bit, want)
			}
			if got := f.get(&recs[i]); got != want {
				t.Errorf("record %d %s: got %s, want %s", i+1, f.name, got, want)
				if bad++; bad > 10 {
					t.FailNow()
				}
			}
		}
	}
}

func readCSVFile(t testing.TB, path string) *exportCSV {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	}
	return parseExportCSV(t, r)
}

// Every file flow-tools wrote, in every version, byte order and
// compression, decodes to exactly what flow-export printed for it.
func TestFormatsMatchFlowExport(t *testing.T) {
	dir := fixture.FlowTools(t, "formats")
	man, err := os.ReadFile(filepath.Join(dir, "MANIFEST.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	csvs := map[string]*exportCSV{}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(man)), "\n")[1:] {
		col := strings.Split(line, "\t")
		file, csvFile := col[0], col[7]
		flows, _ := strconv.Atoi(col[4])
		if csvs[csvFile] == nil {
			csvs[csvFile] = readCSVFile(t, filepath.Join(dir, csvFile+".gz")) // stored gzipped
		}
		want := csvs[csvFile]
		t.Run(file, func(t *testing.T) {
			path := filepath.Join(dir, file)
			recs, h, skips := readAll(t, path, ftfile.Options{})
			if len(skips) != 0 {
				t.Errorf("unexpected skips: %+v", skips)
			}
			if len(recs) != flows {
				t.Errorf("%d records, manifest says %d", len(recs), flows)
			}
			mask := ftfile.FlowExportMask(h.ExportVersion, h.AggMethod)
			if mask != want.mask() {
				t.Fatalf("mask %#x, CSV columns make %#x", mask, want.mask())
			}
			for i := range recs {
				if recs[i].Fields != mask {
					t.Fatalf("record %d: Fields %#x, want %#x", i, recs[i].Fields, mask)
				}
				r := recs[i]
				r.SetTimesFromUptime()
				if r.Start != recs[i].Start || r.End != recs[i].End {
					t.Fatalf("record %d: Start/End not the wrap-corrected times", i)
				}
			}
			be1005 := h.BigEndian && h.ExportVersion == 1005
			be812 := h.BigEndian && h.ExportVersion == 8 && h.AggMethod == 12
			// Strict decoding: what the bytes really hold. The README says
			// how that differs from flow-export for the two buggy layouts.
			want.compare(t, recs, func(bit uint64, v string) string {
				switch {
				case be1005 && (bit == flow.FSrcTag || bit == flow.FDstTag):
					x, _ := strconv.ParseUint(v, 10, 32)
					return num(x << 16)
				case be1005 && bit == flow.FExaddr:
					a := netip.MustParseAddr(v).As4()
					return netip.AddrFrom4([4]byte{a[3], a[2], a[1], a[0]}).String()
				case be812 && bit == flow.FDstAS:
					x, _ := strconv.ParseUint(v, 10, 16)
					return num(bits.ReverseBytes16(uint16(x)))
				}
				return v
			})
			// With the compat switch every file equals flow-export's CSV.
			compat, _, _ := readAll(t, path, ftfile.Options{CompatByteOrder: true})
			want.compare(t, compat, nil)
		})
		n++
	}
	if n < 50 {
		t.Fatalf("only %d files in the manifest", n)
	}
}

// The 12 closed files of the capture tree, in name order, decode to
// flow-export's CSV of flow-cat of the tree; the killed tmp- file gives
// its 2,857 whole records and one cut report.
func TestCaptureTree(t *testing.T) {
	td := fixture.FlowTools(t)
	var files []string
	filepath.WalkDir(filepath.Join(td, "ft-tree"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return err
	})
	sort.Slice(files, func(i, j int) bool { return filepath.Base(files[i]) < filepath.Base(files[j]) })
	var all []flow.Record
	closed, tmp := 0, 0
	for _, p := range files {
		name := filepath.Base(p)
		recs, h, skips := readAll(t, p, ftfile.Options{})
		if strings.HasPrefix(name, "tmp-") {
			tmp++
			st, _ := os.Stat(p)
			if len(recs) != 2857 || len(skips) != 1 || skips[0].Reason != "truncated" || h.Complete() || skips[0].Path != p || skips[0].Offset != st.Size() {
				t.Fatalf("tmp- file: %d records, skips %+v (file size %d)", len(recs), skips, st.Size())
			}
			if !strings.Contains(skips[0].Detail, "2857 whole records") {
				t.Errorf("detail %q does not say what was kept", skips[0].Detail)
			}
			continue
		}
		closed++
		if len(skips) != 0 || !h.Complete() || int(h.FlowCount) != len(recs) {
			t.Fatalf("%s: %d records, header count %d, skips %+v", name, len(recs), h.FlowCount, skips)
		}
		all = append(all, recs...)
	}
	if closed != 12 || tmp != 1 {
		t.Fatalf("%d closed and %d tmp- files", closed, tmp)
	}
	want := readCSVFile(t, filepath.Join(td, "csv", "ft-tree.export-f2.csv.gz"))
	if want.mask() != ftfile.FlowExportMask(5, 0) {
		t.Fatalf("CSV mask %#x", want.mask())
	}
	want.compare(t, all, nil)
}

// The format examples: header-only killed capture, the wrap-around record.
func TestFormatExamples(t *testing.T) {
	ex := fixture.FlowTools(t, "format-examples")
	for _, name := range []string{"v5-le-compressed", "v5-be-uncompressed", "v7-le-uncompressed-streaming", "v5-le-killed-header-only"} {
		recs, _, _ := readAll(t, filepath.Join(ex, name+".ft"), ftfile.Options{})
		want := readCSVFile(t, filepath.Join(ex, name+".flow-export.csv"))
		t.Run(name, func(t *testing.T) { want.compare(t, recs, nil) })
	}
	recs, h, skips := readAll(t, filepath.Join(ex, "v5-le-killed-header-only.ft"), ftfile.Options{})
	if len(recs) != 0 || h.Complete() || h.Flags != ftfile.FlagCompress {
		t.Fatalf("killed header-only: %d records, header %+v", len(recs), h)
	}
	if len(skips) != 1 || skips[0].Reason != "truncated" || skips[0].Offset != 80 {
		t.Fatalf("killed header-only: skips %+v", skips)
	}
	recs, _, _ = readAll(t, filepath.Join(ex, "v5-le-compressed.ft"), ftfile.Options{})
	r := recs[3]
	// Section 5's worked example: flow-tools' start is 49.7 days late,
	// the corrected one is right; both ends agree.
	if r.FTStartMS() != 1704295015500 || r.Start != 1700000048204 || r.End != 1700000059500 || r.FTEndMS() != 1700000059500 {
		t.Fatalf("wrap-around record: ft start %d, start %d, end %d", r.FTStartMS(), r.Start, r.End)
	}
	if recs[0].Start != 1699999990123 || recs[0].End != 1699999999123 {
		t.Fatalf("record 1: %d %d", recs[0].Start, recs[0].End)
	}
}

func ExampleFlowExportMask() {
	fmt.Printf("%#x %#x\n", ftfile.FlowExportMask(5, 0), ftfile.FlowExportMask(8, 10))
	// Output: 0xfff37ef 0x7807ff
}
