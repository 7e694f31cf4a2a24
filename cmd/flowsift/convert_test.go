package main

import (
	"bufio"
	"bytes"
	"math/bits"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/ingest/ftcsv"
	"github.com/flowsift/flowsift/internal/fixture"
)

type manifestRow struct{ file, version, order, csv string }

func readManifest(t *testing.T, dir string) []manifestRow {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "MANIFEST.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []manifestRow
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		c := strings.Split(sc.Text(), "\t")
		if len(c) < 8 {
			continue
		}
		rows = append(rows, manifestRow{file: c[0], version: c[1], order: c[2], csv: c[7]})
	}
	if len(rows) < 40 {
		t.Fatalf("MANIFEST.tsv: only %d rows", len(rows))
	}
	return rows
}

func convertCSV(t *testing.T, args ...string) []byte {
	t.Helper()
	code, out, errs := runCLI(t, "", append([]string{"convert", "--to", "csv"}, append(args, "-")...)...)
	if code != 0 {
		t.Fatalf("convert %v: exit %d: %s", args, code, errs)
	}
	return []byte(out)
}

func parseCSV(t *testing.T, b []byte) []flow.Record {
	t.Helper()
	var recs []flow.Record
	err := ftcsv.Format{Strict: true}.Decode("csv", bytes.NewReader(b), func(bt flow.Batch) error { recs = append(recs, bt...); return nil }, func(flow.Skip) {})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// Every fixture converts to the bytes flow-export printed for it. The two
// big-endian cases flow-export misreads (v1005, v8.12) match it byte for
// byte only with --compat-byte-order; by default they carry what the file
// really holds, which the testdata README describes.
func TestConvertCSVEqualsFlowExport(t *testing.T) {
	dir := fixture.FlowTools(t, "formats")
	for _, m := range readManifest(t, dir) {
		t.Run(m.file, func(t *testing.T) {
			want := gunzipFile(t, filepath.Join(dir, m.csv+".gz")) // stored gzipped
			in := filepath.Join(dir, m.file)
			quirk := m.order == "big" && (m.version == "1005" || m.version == "8.12")
			if !quirk {
				if got := convertCSV(t, in); !bytes.Equal(got, want) {
					t.Fatalf("differs from %s", m.csv)
				}
				return
			}
			if got := convertCSV(t, "--compat-byte-order", in); !bytes.Equal(got, want) {
				t.Fatalf("--compat-byte-order differs from %s", m.csv)
			}
			got, exp := parseCSV(t, convertCSV(t, in)), parseCSV(t, want)
			if len(got) != len(exp) {
				t.Fatalf("%d records, want %d", len(got), len(exp))
			}
			for i := range exp {
				e := exp[i]
				if m.version == "8.12" {
					e.DstAS = uint32(bits.ReverseBytes16(uint16(e.DstAS)))
				} else {
					a := e.Exporter.As4()
					e.Exporter = flow.AddrFromU32(uint32(a[3])<<24 | uint32(a[2])<<16 | uint32(a[1])<<8 | uint32(a[0]))
					e.SrcTag <<= 16
					e.DstTag <<= 16
				}
				if got[i] != e {
					t.Fatalf("record %d:\n got %+v\nwant %+v", i, got[i], e)
				}
			}
		})
	}
}

func ftTreeCSV(t *testing.T) []byte {
	t.Helper()
	return gunzipFile(t, fixture.FlowTools(t, "csv", "ft-tree.export-f2.csv.gz"))
}

// The tree goes to hourly Parquet partitions and back to CSV without losing a
// byte, for -j 1 and -j 2; the killed capture is read with --include-partial
// and reported (exit 3).
func TestConvertTreeParquetPartitionsRoundTrip(t *testing.T) {
	tree := fixture.FlowTools(t, "ft-tree")
	want := ftTreeCSV(t)
	if got := convertCSV(t, "-j", "2", tree); !bytes.Equal(got, want) {
		t.Fatal("tree CSV differs from flow-export's")
	}
	out := filepath.Join(t.TempDir(), "pq")
	code, _, errs := runCLI(t, "", "convert", "--to", "parquet", "--partition", "hour", "-j", "1", tree, out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var parts []string
	filepath.Walk(out, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			rel, _ := filepath.Rel(out, p)
			parts = append(parts, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(parts)
	if len(parts) == 0 || !strings.HasPrefix(parts[0], "date=2026-11-20/hour=") || !strings.HasSuffix(parts[0], "/part-00000.parquet") {
		t.Fatalf("partition files %v", parts)
	}
	if got := convertCSV(t, out); !bytes.Equal(got, want) {
		t.Fatal("tree -> parquet partitions -> CSV differs")
	}
	// Left-over temporary directories would be a bug in the atomic rename.
	if ents, _ := os.ReadDir(filepath.Dir(out)); len(ents) != 1 {
		t.Fatalf("output directory holds %d entries", len(ents))
	}
	// A second run onto the same directory is refused.
	if code, _, _ := runCLI(t, "", "convert", "--to", "parquet", "--partition", "day", tree, out); code != exitUsage {
		t.Fatalf("existing partition directory: exit %d", code)
	}
	// Daily partitions, single file, and the partial capture.
	day := filepath.Join(t.TempDir(), "day")
	if code, _, errs := runCLI(t, "", "convert", "--to", "parquet", "--partition", "day", "--include-partial", tree, day); code != exitPartial || !strings.Contains(errs, "truncated") {
		t.Fatalf("include-partial: exit %d: %s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(day, "date=2026-11-20", "part-00000.parquet")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(day); err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("partition directory mode: %v %v", fi.Mode(), err)
	}
	got := convertCSV(t, day)
	if n := bytes.Count(got, []byte("\n")) - 1; n != 72361+2857 {
		t.Fatalf("with the partial file: %d flows", n)
	}
	one := filepath.Join(t.TempDir(), "one.parquet")
	if code, _, errs := runCLI(t, "", "convert", "--to", "parquet", tree, one); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if got := convertCSV(t, one); !bytes.Equal(got, want) {
		t.Fatal("tree -> parquet file -> CSV differs")
	}
}

// Inputs with different fields: the header is the union and rows lacking a
// field print zero, as flow-export prints a field the version lacks.
func TestConvertUnionMaskAndWindow(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.csv")
	b := filepath.Join(dir, "b.csv")
	os.WriteFile(a, []byte("#:unix_secs,srcaddr\n1700000000,10.0.0.1\n1700000010,10.0.0.2\n"), 0o644)
	os.WriteFile(b, []byte("#:unix_secs,dstport\n1700000020,80\n1700000030,443\n"), 0o644)
	want := "#:unix_secs,srcaddr,dstport\n1700000000,10.0.0.1,0\n1700000010,10.0.0.2,0\n1700000020,0.0.0.0,80\n1700000030,0.0.0.0,443\n"
	if got := string(convertCSV(t, a, b)); got != want {
		t.Fatalf("union:\n%s\nwant\n%s", got, want)
	}
	out := filepath.Join(dir, "out.csv")
	code, _, errs := runCLI(t, "", "convert", "--to", "csv", "--from", "2023-11-14T22:13:25Z", "--until", "2023-11-14 22:13:50", a, b, out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("output mode: %v %v", fi.Mode(), err)
	}
	got, _ := os.ReadFile(out)
	if string(got) != "#:unix_secs,srcaddr,dstport\n1700000010,10.0.0.2,0\n1700000020,0.0.0.0,80\n" {
		t.Fatalf("window: %q", got)
	}
}

func TestConvertErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("#:unix_secs,srcaddr\n1700000000,10.0.0.1\n1700000001,nope\n"), 0o644)
	out := filepath.Join(dir, "out.csv")
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{bad, out}, exitUsage, "--to parquet|csv is required"},
		{[]string{"--to", "xml", bad, out}, exitUsage, "want parquet or csv"},
		{[]string{"--to", "csv", "--partition", "hour", bad, out}, exitUsage, "needs --to parquet"},
		{[]string{"--to", "parquet", bad, "-"}, exitUsage, "stdout"},
		{[]string{"--to", "csv", out}, exitUsage, "INPUT... OUT"},
		{[]string{"--to", "csv", "--strict", bad, out}, exitUsage, "bad.csv: line 3"},
	} {
		code, _, errs := runCLI(t, "", append([]string{"convert"}, c.args...)...)
		if code != c.code || !strings.Contains(errs, c.msg) {
			t.Errorf("%v: exit %d, stderr %q", c.args, code, errs)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("%v left %s behind", c.args, out)
		}
	}
	// Without --strict the bad row is skipped, reported, and exit is 3.
	code, _, errs := runCLI(t, "", "convert", "--to", "csv", bad, out)
	got, _ := os.ReadFile(out)
	if code != exitPartial || !strings.Contains(errs, "bad-row") || string(got) != "#:unix_secs,srcaddr\n1700000000,10.0.0.1\n" {
		t.Fatalf("bad row: exit %d %q %q", code, errs, got)
	}
	// OUT is a directory: the rename fails, nothing is left behind.
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o755)
	os.WriteFile(filepath.Join(sub, "x"), nil, 0o644)
	if code, _, _ := runCLI(t, "", "convert", "--to", "csv", bad, sub); code != exitUsage {
		t.Fatalf("OUT a directory: exit %d", code)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 3 {
		t.Fatalf("temporary files left: %v", ents)
	}
}

// nfdump CSV converts too; its times are read in --nfdump-tz.
func TestConvertNfdumpCSV(t *testing.T) {
	in := filepath.Join("..", "..", "ingest", "nfdump", "testdata", "nfdump-1.7.1.csv")
	utc := parseCSV(t, convertCSV(t, in))
	ny := parseCSV(t, convertCSV(t, "--nfdump-tz", "America/New_York", in))
	if len(utc) != 5 || len(ny) != 5 {
		t.Fatalf("%d/%d flows", len(utc), len(ny))
	}
	// 2023-11-14 22:13:20 UTC, 9.333 s; New York is 5 hours behind UTC then.
	if utc[0].Start != 1700000000000 || utc[0].End != 1700000009333 || utc[0].Src.String() != "192.168.1.10" || utc[0].DstPort != 443 {
		t.Fatalf("utc %+v", utc[0])
	}
	if ny[0].Start-utc[0].Start != 5*3600*1000 {
		t.Fatalf("zone shift %d", ny[0].Start-utc[0].Start)
	}
	if code, _, _ := runCLI(t, "", "convert", "--to", "csv", "--nfdump-tz", "Nowhere/Atlantis", in, "-"); code != exitUsage {
		t.Fatalf("bad zone: exit %d", code)
	}
}
