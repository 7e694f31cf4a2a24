package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/ingest"
	"github.com/flowsift/flowsift/ingest/nfcapd"
	"github.com/flowsift/flowsift/internal/fixture"
	"github.com/flowsift/flowsift/internal/nfv5"
)

// flowsift header on an nfdump file prints its header and, in nfdump
// 1.7.1's words, the ident and statistics `nfdump -I` prints.
func TestHeaderNfcapdMatchesNfdumpI(t *testing.T) {
	nfdump := fixture.NeedProgram(t, "nfdump")
	files, _ := filepath.Glob(filepath.Join(fixture.Path(t, "nfdump"), "*", "*"))
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".md") {
			continue
		}
		n++
		cmd := exec.Command(nfdump, "-I", "-r", f)
		cmd.Env = append(os.Environ(), "TZ=UTC")
		want, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		code, out, stderr := runCLI(t, "", "header", f)
		i := strings.Index(out, "Ident: ")
		layout := "Version    : 2 - "
		if filepath.Base(filepath.Dir(f)) == "v1" {
			layout = "Version    : 1 - "
		}
		if code != 0 || i < 0 || out[i:] != string(want) || !strings.Contains(out, layout) {
			t.Errorf("%s: exit %d %s\n got:\n%s\nwant:\n%s", f, code, stderr, out, want)
		}
	}
	if n < 8 {
		t.Fatalf("%d fixtures", n)
	}
	// Standard input: read to the appendix, the same statistics.
	f := fixture.Path(t, "nfdump", "compressed", "v5.lz4")
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	_, want, _ := runCLI(t, "", "header", f)
	code, out, stderr := runCLI(t, string(b), "header", "-")
	if code != 0 || strings.Replace(out, "File       : -", "File       : "+f, 1) != want {
		t.Fatalf("stdin: exit %d %s\n%s\nwant\n%s", code, stderr, out, want)
	}
	// A cut stream is an error naming the offset.
	code, _, stderr = runCLI(t, string(b[:len(b)/2]), "header", "-")
	if code != exitUsage || !strings.Contains(stderr, "offset") {
		t.Fatalf("cut stdin: exit %d %s", code, stderr)
	}
}

// convert reads nfdump files: CSV and Parquet carry every flow with the
// file's millisecond times and fields.
func TestConvertNfcapd(t *testing.T) {
	v5 := fixture.Path(t, "nfdump", "v5", "nfcapd.202605282025")
	pc := fixture.Path(t, "nfdump", "compressed", "pcap.lz4")
	recs := parseCSV(t, convertCSV(t, v5))
	if len(recs) != 600 {
		t.Fatalf("%d flows", len(recs))
	}
	var ms, other int
	for _, r := range recs {
		if r.Start%1000 != 0 || r.End%1000 != 0 {
			ms++
		}
		if !r.Exporter.IsValid() || r.Packets == 0 || r.SrcAS == 0 || r.Input == 0 || !r.Nexthop.IsValid() {
			other++
		}
	}
	if ms < 500 || other != 0 {
		t.Fatalf("%d flows with milliseconds, %d without fields", ms, other)
	}
	// Parquet and back: the same CSV.
	dir := t.TempDir()
	pq := filepath.Join(dir, "out.parquet")
	if code, _, errs := runCLI(t, "", "convert", "--to", "parquet", v5, pc, pq); code != 0 {
		t.Fatalf("parquet: exit %d %s", code, errs)
	}
	direct := convertCSV(t, v5, pc)
	if back := convertCSV(t, pq); string(back) != string(direct) {
		t.Fatalf("parquet round trip differs")
	}
	// IPv6 flows (nfpcapd's capture) keep their addresses.
	var v6 int
	for _, r := range parseCSV(t, direct) {
		if r.Src.Is6() && r.Dst.Is6() {
			v6++
		}
	}
	f, err := os.Open(pc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := 0
	err = nfcapd.Format{}.Decode(pc, f, func(b flow.Batch) error {
		for i := range b {
			if b[i].Src.Is6() {
				want++
			}
		}
		return nil
	}, func(flow.Skip) {})
	if err != nil || want == 0 || v6 != want {
		t.Fatalf("%d IPv6 flows, the file has %d (%v)", v6, want, err)
	}
}

// sampleNfcapd sends the sample archive's flows as NetFlow v5 to a real
// nfcapd and returns the directory holding its file, as an nfcapd
// collector's directory would.
func sampleNfcapd(t *testing.T) string {
	t.Helper()
	var recs []flow.Record
	_, err := ingest.Run(context.Background(), []string{filepath.Join("..", "..", "samples", "archive")}, ingest.Options{}, func(b flow.Batch) error {
		recs = append(recs, b...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	file := nfv5.CaptureWithNfcapd(t, recs)
	if d := os.Getenv("NFCAPD_KEEP"); d != "" {
		b, _ := os.ReadFile(file)
		os.WriteFile(d, b, 0o644)
	}
	return filepath.Dir(file)
}

// flowsift report over an nfcapd directory: its follow-up commands are
// nfdump's own (-R on the directory read) and print the episode's flows,
// and its top-talker tables equal `nfdump -s` over the same files.
func TestReportNfcapdDirectory(t *testing.T) {
	nfdump := fixture.NeedProgram(t, "nfdump")
	dir := sampleNfcapd(t)
	m := reportJSON(t, dir)
	n := 0
	for _, s := range m.Scanners {
		if s.FlowTools != "" || s.FollowUpCmd != "" || !strings.HasPrefix(s.Nfdump, "TZ=UTC nfdump -R "+dir+" ") {
			t.Fatalf("%s: commands %q %q %q", s.Src, s.FlowTools, s.FollowUpCmd, s.Nfdump)
		}
		if n >= 3 {
			continue
		}
		n++
		out := sh(t, t.TempDir(), "", strings.Replace(s.Nfdump, "nfdump", nfdump, 1)+" -q -o csv")
		rows := 0
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if strings.Contains(l, ","+s.Src+",") {
				rows++
			}
		}
		if uint64(rows) != s.Flows {
			t.Errorf("%s: nfdump prints %d flows, the episode has %d", s.Nfdump, rows, s.Flows)
		}
	}
	if n == 0 {
		t.Fatal("no scanner in the report")
	}
	tables := 0
	for _, tb := range m.Talkers {
		if tb.Key == "pair" {
			continue // no nfdump -s element; analyze/talkers compares it with -A srcip,dstip
		}
		tables++
		cmd := exec.Command(nfdump, "-R", dir, "-q", "-n", "0", "-s", tb.Key+"/"+tb.Order, "-o", "csv")
		cmd.Env = append(os.Environ(), "TZ=UTC")
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		want := nfdumpStatRows(t, out, tb.Key)
		if len(want) != tb.Distinct {
			t.Errorf("%s/%s: nfdump has %d keys, flowsift %d", tb.Key, tb.Order, len(want), tb.Distinct)
		}
		for _, r := range tb.Rows {
			w, ok := want[r.Key]
			if !ok || w != [3]uint64{r.Flows, r.Packets, r.Bytes} {
				t.Errorf("%s/%s %s: flowsift %d/%d/%d, nfdump %v", tb.Key, tb.Order, r.Key, r.Flows, r.Packets, r.Bytes, w)
			}
		}
	}
	if tables < 6 {
		t.Fatalf("%d talker tables", tables)
	}
}

// nfdumpStatRows reads `nfdump -s KEY -o csv`: value -> flows, packets, bytes.
func nfdumpStatRows(t *testing.T, out []byte, key string) map[string][3]uint64 {
	t.Helper()
	rd := csv.NewReader(bytes.NewReader(out))
	rd.FieldsPerRecord = -1
	recs, err := rd.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][3]uint64{}
	var head map[string]int
	for _, rec := range recs {
		if len(rec) > 0 && rec[0] == "ts" {
			head = map[string]int{}
			for i, h := range rec {
				head[h] = i
			}
			continue
		}
		if head == nil || len(rec) < len(head) {
			continue
		}
		var v [3]uint64
		// nfdump 1.7.1 names the columns pkt/byt or ipkt/ibyt by statistic.
		for i, c := range []string{"fl", "pkt", "byt"} {
			col, ok := head[c]
			if !ok {
				col, ok = head["i"+c]
			}
			if !ok {
				t.Fatalf("%s: no column %s in %v", key, c, head)
			}
			n, err := strconv.ParseUint(strings.TrimSpace(rec[col]), 10, 64)
			if err != nil {
				t.Fatalf("%s: %v in %v", key, err, rec)
			}
			v[i] = n
		}
		rows[strings.TrimSpace(rec[head["val"]])] = v // proto: the number
	}
	return rows
}
