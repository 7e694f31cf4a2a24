package ftfile_test

import (
	"bytes"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/ingest/ftfile"
	"github.com/flowsift/flowsift/internal/fixture"
)

func sampleRecords() []flow.Record {
	var out []flow.Record
	for i := 0; i < 500; i++ {
		r := flow.Record{
			Exporter: netip.MustParseAddr("127.0.0.2"), Src: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}),
			Dst: netip.MustParseAddr("192.0.2.7"), Nexthop: netip.MustParseAddr("10.255.0.1"),
			PeerNexthop: netip.MustParseAddr("10.255.0.2"), RouterSC: netip.MustParseAddr("10.255.0.3"),
			Input: 1, Output: uint32(i % 7), Packets: uint64(i + 1), Octets: uint64(40 * (i + 1)),
			SrcPort: uint16(1024 + i), DstPort: 443, Proto: 6, ToS: 0x10, TCPFlags: 0x1b,
			SrcMask: 24, DstMask: 16, SrcAS: 64512, DstAS: 65001, EngineType: 1, EngineID: 2,
			InEncaps: 3, OutEncaps: 4, SrcTag: 70000 + uint32(i), DstTag: 5,
			Start: 1795169000000 + int64(i)*10, End: 1795169001000 + int64(i)*10,
		}
		r.SetUptimeFromTimes()
		out = append(out, r)
	}
	return out
}

// writeStream writes recs as one flow-tools stream with cfg.
func writeStream(t testing.TB, cfg ftfile.WriterConfig, recs []flow.Record) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := ftfile.NewWriter(&buf, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(recs); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// What the writer writes, the reader reads back, for every version, byte
// order and compression it supports.
func TestWriterRoundTrip(t *testing.T) {
	for _, v := range []uint16{1, 5, 6, 7, 1005} {
		for _, be := range []bool{false, true} {
			for _, level := range []int{0, 6} {
				recs := sampleRecords()
				buf := bytes.NewBuffer(writeStream(t, ftfile.WriterConfig{ExportVersion: v, BigEndian: be, Level: level,
					Capture: true, Flags: ftfile.FlagDone, CapStart: 1795169000, CapEnd: 1795169900, FlowCount: uint32(len(recs)), Hostname: "cap01"}, recs))
				rd, err := ftfile.NewReader(buf, "mem", ftfile.Options{})
				if err != nil {
					t.Fatal(err)
				}
				h := rd.Header()
				if h.ExportVersion != v || h.BigEndian != be || h.FlowCount != uint32(len(recs)) || h.Hostname != "cap01" || !h.Complete() || (level > 0) != (h.Flags&ftfile.FlagCompress != 0) {
					t.Fatalf("v%d be=%v z=%d: header %+v", v, be, level, h)
				}
				got := make([]flow.Record, len(recs)+1)
				n, _ := rd.Read(got)
				if n != len(recs) || len(rd.Skips()) != 0 {
					t.Fatalf("v%d be=%v z=%d: %d records, skips %v", v, be, level, n, rd.Skips())
				}
				mask := ftfile.FlowExportMask(v, 0)
				for i := range recs {
					for _, f := range exportFields {
						if f.bit&mask != 0 && f.get(&got[i]) != f.get(&recs[i]) {
							t.Fatalf("v%d be=%v z=%d record %d %s: wrote %s, read %s", v, be, level, i, f.name, f.get(&recs[i]), f.get(&got[i]))
						}
					}
					if got[i].Start != recs[i].Start || got[i].End != recs[i].End || got[i].Fields != mask {
						t.Fatalf("v%d be=%v z=%d record %d: times %d-%d, want %d-%d, fields %#x", v, be, level, i, got[i].Start, got[i].End, recs[i].Start, recs[i].End, got[i].Fields)
					}
				}
			}
		}
	}
}

// configLike derives the WriterConfig that should reproduce a real file's
// header: flow-capture's TLV set or a flow-import/flow-cat stream.
func configLike(h *ftfile.Header, level int) ftfile.WriterConfig {
	cfg := ftfile.WriterConfig{ExportVersion: h.ExportVersion, BigEndian: h.BigEndian, Level: level,
		Hostname: h.Hostname, Comments: h.Comments}
	if h.Has(0x0E) { // SEQ_RESET: only flow-capture writes it
		cfg.Capture = true
		cfg.Flags = h.Flags &^ ftfile.FlagCompress
		cfg.CapStart, cfg.CapEnd, cfg.FlowCount = h.CapStart, h.CapEnd, h.FlowCount
		cfg.FlowLost, cfg.PktCorrupt, cfg.SeqReset = h.FlowLost, h.PktCorrupt, h.SeqReset
	} else {
		cfg.Flags = h.Flags &^ (ftfile.FlagCompress | ftfile.FlagStreaming)
	}
	return cfg
}

// Decoding a real uncompressed file and writing it again gives the same
// bytes: header TLVs, padding and every record field (strict decoding is
// the exact inverse of the encoder, even for big-endian v1005). For
// compressed files the header and the records are compared.
func TestWriterReproducesRealFiles(t *testing.T) {
	s := fixture.FlowTools(t)
	files := []string{
		"format-examples/v5-le-compressed.ft", // flow-capture
		"format-examples/v7-le-uncompressed-streaming.ft",
		"formats/v5.flow-cat-stream.ft",
		"formats/v5.flow-merge-stream.z6.ft",
	}
	for _, v := range []string{"v1", "v5", "v6", "v7"} {
		for _, e := range []string{"le.z0", "be.z0", "le.z6", "be.z6"} {
			files = append(files, "formats/"+v+"."+e+".ft")
		}
	}
	for _, name := range files {
		t.Run(filepath.Base(name), func(t *testing.T) {
			path := filepath.Join(s, name)
			orig, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			recs, h, _ := readAll(t, path, ftfile.Options{})
			level := 0
			if h.Flags&ftfile.FlagCompress != 0 {
				level = 6
			}
			got := writeStream(t, configLike(h, level), recs)
			if level == 0 {
				if !bytes.Equal(got, orig) {
					t.Fatalf("rewritten file differs (%d vs %d bytes) at byte %d", len(got), len(orig), firstDiff(got, orig))
				}
				return
			}
			if !bytes.Equal(got[:h.HeaderLen], orig[:h.HeaderLen]) {
				t.Fatalf("header differs at byte %d", firstDiff(got, orig))
			}
			back, _, skips := readAll(t, writeTemp(t, got), ftfile.Options{})
			if len(back) != len(recs) || len(skips) != 0 {
				t.Fatalf("%d records back of %d, skips %v", len(back), len(recs), skips)
			}
			for i := range recs {
				if back[i] != recs[i] {
					t.Fatalf("record %d differs after rewrite", i)
				}
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func writeTemp(t *testing.T, b []byte) string {
	p := filepath.Join(t.TempDir(), "f.ft")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestWriterRejects(t *testing.T) {
	for _, cfg := range []ftfile.WriterConfig{
		{ExportVersion: 8}, {ExportVersion: 2}, {ExportVersion: 5, Level: 10}, {ExportVersion: 5, Level: -1},
		{ExportVersion: 5, Comments: strings.Repeat("x", 20000)},
	} {
		if _, err := ftfile.NewWriter(io.Discard, cfg); err == nil {
			t.Errorf("%+v accepted", cfg.ExportVersion)
		}
	}
}
