package ftfile_test

import (
	"bufio"
	"bytes"
	"io"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"

	"github.com/klauspost/compress/zlib"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/ingest/ftfile"
)

const benchFlows = 1_000_000

var (
	v5Once sync.Once
	v5File []byte // benchFlows generated flows, compressed v5 as flow-capture writes them
	v5Hdr  int
)

// genFlows makes n flows shaped like a border router's export: PDUs of
// 30 records sharing the export header, a client population talking to a
// server population on a few service ports, heavy-tailed sizes. The point
// is a realistic compression ratio (flow-capture files hold about 20-25
// bytes per flow), so inflate and decode costs are measured in proportion.
func genFlows(n int, seed uint64) []flow.Record {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	servers := make([][4]byte, 4000)
	for i := range servers {
		servers[i] = [4]byte{byte(23 + rng.IntN(180)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(1 + rng.IntN(254))}
	}
	services := []struct {
		port  uint16
		proto uint8
		size  int
	}{{443, 6, 900}, {443, 6, 900}, {443, 6, 600}, {80, 6, 700}, {53, 17, 80}, {443, 17, 1200}, {123, 17, 76}, {25, 6, 500}, {993, 6, 300}, {22, 6, 120}, {0, 1, 84}}
	flags := []uint8{0x1b, 0x1b, 0x1f, 0x1a, 0x02, 0x12, 0x14, 0x19}
	exporter := netip.MustParseAddr("127.0.0.2")
	out := make([]flow.Record, n)
	secs := uint32(1795169000)
	uptime := uint32(2_200_000_000)
	var nsecs uint32
	for i := range out {
		if i%30 == 0 {
			step := uint32(rng.IntN(40))
			secs += step / 20
			uptime += step * 50
			nsecs = uint32(rng.IntN(1000)) * 1_000_000
		}
		svc := services[rng.IntN(len(services))]
		srv := servers[int(rng.ExpFloat64()*120)%len(servers)]
		cli := [4]byte{10, 20, byte(1 + rng.IntN(3)), byte(1 + int(rng.ExpFloat64()*40)%254)}
		pkts := uint32(1 + rng.ExpFloat64()*20)
		dur := uint32(rng.ExpFloat64()*3000) &^ 3
		if pkts == 1 {
			dur = 0
		}
		last := uptime - uint32(rng.IntN(4000))
		r := flow.Record{
			UnixSecs: secs, UnixNsecs: nsecs, SysUptime: uptime,
			First: last - dur, Last: last,
			Exporter: exporter, Nexthop: netip.AddrFrom4([4]byte{10, 20, 0, 1}),
			Packets: uint64(pkts), Octets: uint64(pkts) * uint64(svc.size+4*rng.IntN(8)),
			Proto: svc.proto, EngineID: 1,
		}
		inbound := rng.IntN(2) == 0
		if inbound {
			r.Src, r.Dst = netip.AddrFrom4(srv), netip.AddrFrom4(cli)
			r.SrcPort, r.DstPort = svc.port, uint16(49152+rng.IntN(1024))
			r.Input, r.Output = 1, uint32(10+cli[2])
			r.SrcMask, r.DstMask, r.SrcAS, r.DstAS = 16, 24, uint32(srv[0])*100, 0
		} else {
			r.Src, r.Dst = netip.AddrFrom4(cli), netip.AddrFrom4(srv)
			r.SrcPort, r.DstPort = uint16(49152+rng.IntN(1024)), svc.port
			r.Input, r.Output = uint32(10+cli[2]), 1
			r.SrcMask, r.DstMask, r.SrcAS, r.DstAS = 24, 16, 0, uint32(srv[0])*100
		}
		if svc.proto == 6 {
			r.TCPFlags = flags[rng.IntN(len(flags))]
		}
		if svc.proto == 1 {
			r.SrcPort, r.DstPort = 0, 0x0800
		}
		r.SetTimesFromUptime()
		out[i] = r
	}
	return out
}

func benchV5(b *testing.B) []byte {
	v5Once.Do(func() {
		var out bytes.Buffer
		w, err := ftfile.NewWriter(&out, ftfile.WriterConfig{ExportVersion: 5, Level: 6, Capture: true,
			Flags: ftfile.FlagDone, FlowCount: benchFlows, Hostname: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		recs := genFlows(benchFlows, 1)
		if err := w.Write(recs); err != nil {
			b.Fatal(err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		v5File = out.Bytes()
		h, err := ftfile.ReadHeader(bytes.NewReader(v5File))
		if err != nil {
			b.Fatal(err)
		}
		v5Hdr = h.HeaderLen
	})
	return v5File
}

// BenchmarkInflateOnlyV5 is the floor: inflating the data section without
// decoding it, in the same chunk size the reader uses.
func BenchmarkInflateOnlyV5(b *testing.B) {
	file := benchV5(b)
	b.SetBytes(int64(len(file)))
	b.ResetTimer()
	var n int64
	buf := make([]byte, 64*4096)
	for i := 0; i < b.N; i++ {
		zr, err := zlib.NewReader(bufio.NewReaderSize(bytes.NewReader(file[v5Hdr:]), 64*1024))
		if err != nil {
			b.Fatal(err)
		}
		for {
			k, err := zr.Read(buf)
			n += int64(k)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(n/64)/b.Elapsed().Seconds(), "flows/s")
	b.ReportMetric(float64(len(file)-v5Hdr)/benchFlows, "zbytes/flow")
}

// BenchmarkDecodeV5 is inflating and decoding into flow.Record.
func BenchmarkDecodeV5(b *testing.B) {
	file := benchV5(b)
	b.SetBytes(int64(len(file)))
	b.ResetTimer()
	var n int64
	buf := make([]flow.Record, 4096)
	for i := 0; i < b.N; i++ {
		rd, err := ftfile.NewReader(bytes.NewReader(file), "bench", ftfile.Options{})
		if err != nil {
			b.Fatal(err)
		}
		for {
			k, err := rd.Read(buf)
			n += int64(k)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		if len(rd.Skips()) != 0 {
			b.Fatal(rd.Skips())
		}
	}
	if n != int64(b.N)*benchFlows {
		b.Fatalf("decoded %d flows, want %d", n, int64(b.N)*benchFlows)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "flows/s")
}
