package ftfile_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/ingest/ftcsv"
	"github.com/flowsift/flowsift/ingest/ftfile"
)

func shared(t testing.TB) string {
	t.Helper()
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		if filepath.Dir(dir) == dir {
			t.Skip("no repository root")
		}
		dir = filepath.Dir(dir)
	}
	s := filepath.Join(filepath.Dir(dir), "shared")
	if _, err := os.Stat(s); err != nil {
		t.Skip("shared fixtures absent")
	}
	return s
}

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

func toCSV(t testing.TB, recs []flow.Record, mask uint64) string {
	var b bytes.Buffer
	w := ftcsv.NewWriter(&b, mask)
	if err := w.Write(recs); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	return b.String()
}

// Every file flow-tools wrote, in every version, byte order and
// compression, decodes to exactly what flow-export printed for it.
func TestFormatsMatchFlowExport(t *testing.T) {
	dir := filepath.Join(shared(t), "testdata", "formats")
	man, err := os.ReadFile(filepath.Join(dir, "MANIFEST.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(man)), "\n")[1:] {
		col := strings.Split(line, "\t")
		file, csvFile := col[0], col[7]
		t.Run(file, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join(dir, csvFile))
			if err != nil {
				t.Fatal(err)
			}
			// With the compat switch the big-endian quirks of 0.68 are
			// reproduced, so every file equals its flow-export CSV.
			recs, h, skips := readAll(t, filepath.Join(dir, file), ftfile.Options{CompatByteOrder: true})
			if len(skips) != 0 {
				t.Errorf("unexpected skips: %+v", skips)
			}
			mask := ftfile.FlowExportMask(h.ExportVersion, h.AggMethod)
			if got := toCSV(t, recs, mask); got != string(want) {
				t.Errorf("CSV differs from flow-export:\n%s", diffLine(got, string(want)))
			}
			// Strictly decoded, big-endian v1005 and v8.12 hold what the
			// fixtures' README says the bytes really are.
			strict, _, _ := readAll(t, filepath.Join(dir, file), ftfile.Options{})
			for i := range strict {
				c, s := recs[i], strict[i]
				switch {
				case h.BigEndian && h.ExportVersion == 1005:
					if s.SrcTag != c.SrcTag<<16 || s.DstTag != c.DstTag<<16 || s.Exporter != reverse(c.Exporter) {
						t.Fatalf("record %d: strict tags %d/%d exaddr %s, compat %d/%d %s", i, s.SrcTag, s.DstTag, s.Exporter, c.SrcTag, c.DstTag, c.Exporter)
					}
				case h.BigEndian && h.ExportVersion == 8 && h.AggMethod == 12:
					if s.DstAS != uint32(swap16(uint16(c.DstAS))) {
						t.Fatalf("record %d: strict dst_as %d, compat %d", i, s.DstAS, c.DstAS)
					}
				default:
					if s != c {
						t.Fatalf("record %d: strict and compat decoding differ", i)
					}
				}
			}
		})
		n++
	}
	if n < 40 {
		t.Fatalf("only %d files in the manifest", n)
	}
}

func reverse(a netip.Addr) netip.Addr {
	b := a.As4()
	return netip.AddrFrom4([4]byte{b[3], b[2], b[1], b[0]})
}

func swap16(v uint16) uint16 { return v<<8 | v>>8 }

// The capture tree decodes to flow-export's CSV of flow-cat of the tree;
// the killed tmp- file gives its 2,857 whole records and one cut report.
func TestCaptureTree(t *testing.T) {
	td := filepath.Join(shared(t), "testdata")
	day := filepath.Join(td, "ft-tree", "2026", "2026-11", "2026-11-20")
	entries, err := os.ReadDir(day)
	if err != nil {
		t.Fatal(err)
	}
	var all []flow.Record
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "tmp-") {
			recs, h, skips := readAll(t, filepath.Join(day, e.Name()), ftfile.Options{})
			if len(recs) != 2857 || len(skips) != 1 || skips[0].Reason != "truncated" || h.Complete() {
				t.Fatalf("tmp- file: %d records, skips %+v", len(recs), skips)
			}
			st, _ := os.Stat(filepath.Join(day, e.Name()))
			if skips[0].Offset != st.Size() {
				t.Errorf("cut reported at %d, file is %d bytes", skips[0].Offset, st.Size())
			}
			continue
		}
		recs, h, skips := readAll(t, filepath.Join(day, e.Name()), ftfile.Options{})
		if len(skips) != 0 || !h.Complete() || int(h.FlowCount) != len(recs) {
			t.Fatalf("%s: %d records, header count %d, skips %+v", e.Name(), len(recs), h.FlowCount, skips)
		}
		all = append(all, recs...)
	}
	f, err := os.Open(filepath.Join(td, "csv", "ft-tree.export-f2.csv.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, _ := gzip.NewReader(f)
	want, _ := io.ReadAll(zr)
	if got := toCSV(t, all, ftfile.FlowExportMask(5, 0)); got != string(want) {
		t.Fatalf("ft-tree differs from flow-export:\n%s", diffLine(got, string(want)))
	}
}

func diffLine(got, want string) string {
	gs, ws := bufio.NewScanner(strings.NewReader(got)), bufio.NewScanner(strings.NewReader(want))
	for i := 1; ; i++ {
		g, w := gs.Scan(), ws.Scan()
		if !g && !w {
			return "equal"
		}
		if gs.Text() != ws.Text() || g != w {
			return "line " + strconv.Itoa(i) + ":\n got: " + gs.Text() + "\nwant: " + ws.Text()
		}
	}
}
