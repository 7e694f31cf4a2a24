package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/ingest/nfcapd"
	"github.com/flowsift/flowsift/internal/fixture"
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
		if code != 0 || i < 0 || out[i:] != string(want) || !strings.Contains(out, "Version    : 2 - ") {
			t.Errorf("%s: exit %d %s\n got:\n%s\nwant:\n%s", f, code, stderr, out, want)
		}
	}
	if n < 8 {
		t.Fatalf("%d fixtures", n)
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
