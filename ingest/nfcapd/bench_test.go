package nfcapd

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/internal/nfv5"
)

// decodeCount decodes r and counts its flows, as ingest would hand them on.
func decodeCount(tb testing.TB, b []byte, prefetch bool) int {
	n := 0
	err := Format{Prefetch: prefetch}.Decode("bench", bytes.NewReader(b), func(bt flow.Batch) error {
		n += len(bt)
		return nil
	}, func(s flow.Skip) { tb.Fatalf("skip %+v", s) })
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

func benchDecode(b *testing.B, name string, zstd, prefetch bool) {
	in := fixtureBytes(b, "compressed", name)
	if zstd {
		in = toZSTD(b, in)
	}
	var n int
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		n = decodeCount(b, in, prefetch)
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "flows/s")
}

func BenchmarkDecodeLZ4(b *testing.B)         { benchDecode(b, "v5.lz4", false, false) }
func BenchmarkDecodeLZ4Prefetch(b *testing.B) { benchDecode(b, "v5.lz4", false, true) }
func BenchmarkDecodeZSTD(b *testing.B)        { benchDecode(b, "v5.lz4", true, false) }
func BenchmarkDecodeLZO(b *testing.B)         { benchDecode(b, "v5.lzo", false, false) }
func BenchmarkDecodeBZ2(b *testing.B)         { benchDecode(b, "v5.bz2", false, false) }

// TestDecodeFile decodes the file named by NFCAPD_DECODE (with prefetch
// when NFCAPD_PREFETCH is set) and nothing else: the measurement behind
// the speed figures of the README, run under /usr/bin/time.
func TestDecodeFile(t *testing.T) {
	path := os.Getenv("NFCAPD_DECODE")
	if path == "" {
		t.Skip("set NFCAPD_DECODE=FILE to time the decoding of FILE")
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	err = Format{Prefetch: os.Getenv("NFCAPD_PREFETCH") != ""}.Decode(path, f, func(bt flow.Batch) error {
		n += len(bt)
		return nil
	}, func(s flow.Skip) { t.Errorf("skip %+v", s) })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d flows", n)
}

// TestMakeZSTD writes the ZSTD rewrite of an LZ4 file (NFCAPD_TOZSTD=IN:OUT)
// for the speed figures: nfdump 1.7.1 cannot write ZSTD.
func TestMakeZSTD(t *testing.T) {
	in, out, ok := strings.Cut(os.Getenv("NFCAPD_TOZSTD"), ":")
	if !ok {
		t.Skip("set NFCAPD_TOZSTD=IN.lz4:OUT to write a ZSTD rewrite")
	}
	b, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, toZSTD(t, b), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestMake1M captures a million seeded v5 flows over an hour with the real
// nfcapd into NFCAPD_MAKE1M (a file name): the input of the speed figures.
func TestMake1M(t *testing.T) {
	out := os.Getenv("NFCAPD_MAKE1M")
	if out == "" {
		t.Skip("set NFCAPD_MAKE1M=FILE to capture a 1M-flow file with nfcapd")
	}
	rng := rand.New(rand.NewPCG(1, 1000000))
	base := int64(1780000000000)
	recs := make([]flow.Record, 1_000_000)
	for i := range recs {
		end := base + int64(i)*3600 + rng.Int64N(3600) // an hour, in End order within a few ms
		r := &recs[i]
		*r = flow.Record{Start: end - rng.Int64N(60000), End: end,
			Src:     netip.AddrFrom4([4]byte{10, byte(rng.IntN(16)), byte(rng.IntN(256)), byte(rng.IntN(256))}),
			Dst:     netip.AddrFrom4([4]byte{192, 0, byte(rng.IntN(4)), byte(rng.IntN(256))}),
			Nexthop: netip.AddrFrom4([4]byte{10, 255, 0, 1}), Packets: uint64(1 + rng.IntN(100)), Input: 1, Output: 2,
			SrcAS: 64512, DstAS: 65000, Proto: 6, SrcPort: uint16(1024 + rng.IntN(60000)), DstPort: 443, TCPFlags: 0x1b}
		r.Octets = r.Packets * 400
	}
	f := nfv5.CaptureWithNfcapd(t, recs)
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
