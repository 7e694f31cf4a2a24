package nfcapd

import (
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/internal/fixture"
	"github.com/flowsift/flowsift/internal/nfv5"
)

var update = flag.Bool("update", false, "remake testdata/nfdump/ with the installed nfcapd, nfpcapd and nfdump")

// v5Flows are the flows sent to nfcapd for testdata/nfdump/v5: seeded,
// TCP, UDP and ICMP, with interfaces, AS numbers, masks and next hops.
func v5Flows() []flow.Record {
	rng := rand.New(rand.NewPCG(19, 2026))
	base := int64(1780000000000) // 2026-05-28 20:26:40 UTC
	var recs []flow.Record
	for i := range 600 {
		start := base + int64(i)*250 + rng.Int64N(1000)
		r := flow.Record{
			Start: start, End: start + rng.Int64N(30000),
			Src:     netip.AddrFrom4([4]byte{10, byte(rng.IntN(4)), byte(rng.IntN(8)), byte(1 + rng.IntN(200))}),
			Dst:     netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + rng.IntN(30))}),
			Nexthop: netip.AddrFrom4([4]byte{10, 255, 0, byte(1 + rng.IntN(3))}),
			Packets: uint64(1 + rng.IntN(5000)), Input: uint32(1 + rng.IntN(6)), Output: uint32(1 + rng.IntN(6)),
			SrcAS: uint32(64512 + rng.IntN(10)), DstAS: uint32(65000 + rng.IntN(10)),
			SrcMask: byte(8 + rng.IntN(17)), DstMask: byte(16 + rng.IntN(9)), ToS: byte(rng.IntN(4) * 8),
		}
		r.Octets = r.Packets * uint64(40+rng.IntN(1400))
		switch rng.IntN(10) {
		case 0:
			r.Proto = 1
			r.DstPort = uint16([]int{0x0800, 0x0000, 0x0303, 0x0b00}[rng.IntN(4)])
		case 1, 2, 3:
			r.Proto = 17
			r.SrcPort, r.DstPort = uint16(1024+rng.IntN(60000)), uint16([]int{53, 123, 161, 514}[rng.IntN(4)])
		default:
			r.Proto = 6
			r.SrcPort, r.DstPort = uint16(1024+rng.IntN(60000)), uint16([]int{22, 25, 80, 443, 8080}[rng.IntN(5)])
			r.TCPFlags = byte(rng.IntN(64))
		}
		recs = append(recs, r)
	}
	return recs
}

// writePcap writes an Ethernet pcap of IPv4 and IPv6 packets (TCP, UDP,
// ICMP, ICMPv6) for nfpcapd, seeded.
func writePcap(t *testing.T, path string) {
	rng := rand.New(rand.NewPCG(6, 19))
	le, be := binary.LittleEndian, binary.BigEndian
	out := make([]byte, 24)
	le.PutUint32(out[0:], 0xa1b2c3d4)
	le.PutUint16(out[4:], 2)
	le.PutUint16(out[6:], 4)
	le.PutUint32(out[16:], 65535)
	le.PutUint32(out[20:], 1)
	base := int64(1780000200_000000) // µs
	for i := range 400 {
		v6 := i%2 == 1
		var l4 []byte
		proto := []byte{6, 17, 1}[rng.IntN(3)]
		switch proto {
		case 6:
			l4 = make([]byte, 20+rng.IntN(200))
			be.PutUint16(l4[0:], uint16(30000+rng.IntN(40)))
			be.PutUint16(l4[2:], []uint16{80, 443, 22}[rng.IntN(3)])
			l4[12] = 0x50
			l4[13] = byte(rng.IntN(64))
		case 17:
			l4 = make([]byte, 8+rng.IntN(300))
			be.PutUint16(l4[0:], uint16(40000+rng.IntN(40)))
			be.PutUint16(l4[2:], []uint16{53, 123}[rng.IntN(2)])
			be.PutUint16(l4[4:], uint16(len(l4)))
		case 1:
			l4 = make([]byte, 8+rng.IntN(56))
			l4[0] = []byte{8, 0, 3, 11}[rng.IntN(4)]
			l4[1] = byte(rng.IntN(2))
			if v6 {
				proto = 58
				l4[0] = []byte{128, 129, 1, 3}[rng.IntN(4)]
			}
		}
		var pkt []byte
		if v6 {
			pkt = make([]byte, 14+40)
			be.PutUint16(pkt[12:], 0x86dd)
			ip := pkt[14:]
			ip[0] = 0x60
			be.PutUint16(ip[4:], uint16(len(l4)))
			ip[6], ip[7] = proto, 64
			src := netip.MustParseAddr(fmt.Sprintf("2001:db8:%x::%x", rng.IntN(4), 1+rng.IntN(20))).As16()
			dst := netip.MustParseAddr(fmt.Sprintf("2001:db8:ffff::%x", 1+rng.IntN(5))).As16()
			copy(ip[8:], src[:])
			copy(ip[24:], dst[:])
		} else {
			pkt = make([]byte, 14+20)
			be.PutUint16(pkt[12:], 0x0800)
			ip := pkt[14:]
			ip[0], ip[1] = 0x45, byte(rng.IntN(4)*8)
			be.PutUint16(ip[2:], uint16(20+len(l4)))
			ip[8], ip[9] = 64, proto
			copy(ip[12:], []byte{172, 16, byte(rng.IntN(4)), byte(1 + rng.IntN(20))})
			copy(ip[16:], []byte{198, 51, 100, byte(1 + rng.IntN(5))})
			var sum uint32
			for k := 0; k < 20; k += 2 {
				sum += uint32(be.Uint16(ip[k:]))
			}
			for sum > 0xffff {
				sum = sum>>16 + sum&0xffff
			}
			be.PutUint16(ip[10:], ^uint16(sum))
		}
		pkt = append(pkt, l4...)
		ts := base + int64(i)*150_000 + rng.Int64N(100_000)
		var rec [16]byte
		le.PutUint32(rec[0:], uint32(ts/1e6))
		le.PutUint32(rec[4:], uint32(ts%1e6))
		le.PutUint32(rec[8:], uint32(len(pkt)))
		le.PutUint32(rec[12:], uint32(len(pkt)))
		out = append(out, rec[:]...)
		out = append(out, pkt...)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// TestMakeFixtures remakes testdata/nfdump with -update (see its README).
func TestMakeFixtures(t *testing.T) {
	if !*update {
		t.Skip("runs with -update only")
	}
	nfdump := fixture.NeedProgram(t, "nfdump")
	nfpcapd := fixture.NeedProgram(t, "nfpcapd")
	dir := filepath.Join(fixture.Root(t), "testdata", "nfdump")
	os.RemoveAll(dir + "/v5")
	os.RemoveAll(dir + "/pcap")
	os.RemoveAll(dir + "/compressed")
	for _, d := range []string{"v5", "pcap", "compressed"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// v5: nfcapd's own capture; the file is renamed to the period its
	// flows are in (nfcapd names it by the wall clock of the capture).
	f := nfv5.CaptureWithNfcapd(t, v5Flows())
	run(t, "cp", f, filepath.Join(dir, "v5", "nfcapd.202605282025"))
	pcap := filepath.Join(t.TempDir(), "in.pcap")
	writePcap(t, pcap)
	run(t, nfpcapd, "-r", pcap, "-w", filepath.Join(dir, "pcap"))
	v5 := filepath.Join(dir, "v5", "nfcapd.202605282025")
	for _, c := range []struct{ name, flag string }{{"none", ""}, {"lzo", "-z"}, {"bz2", "-j"}, {"lz4", "-y"}} {
		args := []string{"-r", v5, "-w", filepath.Join(dir, "compressed", "v5."+c.name)}
		if c.flag != "" {
			args = append(args, c.flag)
		}
		run(t, nfdump, args...)
	}
	pc, _ := filepath.Glob(filepath.Join(dir, "pcap", "nfcapd.*"))
	if len(pc) != 1 {
		t.Fatalf("nfpcapd wrote %v", pc)
	}
	run(t, nfdump, "-r", pc[0], "-w", filepath.Join(dir, "compressed", "pcap.lz4"), "-y")
	run(t, nfdump, "-r", pc[0], "-w", filepath.Join(dir, "compressed", "pcap.lzo"), "-z")
	// An aggregated file: flow counts in the records.
	run(t, nfdump, "-r", v5, "-A", "srcip", "-w", filepath.Join(dir, "compressed", "v5-aggregated.lz4"), "-y")
}
