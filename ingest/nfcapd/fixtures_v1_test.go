package nfcapd

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/flowsift/flowsift/internal/fixture"
	"github.com/flowsift/flowsift/internal/nfv5"
)

// TestMakeV1Fixtures remakes testdata/nfdump/v1 (nfdump 1.6 layout 1
// files) with nfdump 1.6 programs in the directory NFDUMP16_BIN (built from
// nfdump's v1.6.25 source, see testdata/nfdump/README.md). Debian ships
// nfdump 1.7, which no longer writes this layout.
func TestMakeV1Fixtures(t *testing.T) {
	bin := os.Getenv("NFDUMP16_BIN")
	if bin == "" || !*update {
		t.Skip("runs with -update and NFDUMP16_BIN=DIR of nfdump 1.6 programs only")
	}
	dir := filepath.Join(fixture.Root(t), "testdata", "nfdump", "v1")
	os.RemoveAll(dir)
	capDir := t.TempDir()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	cmd := exec.Command(filepath.Join(bin, "nfcapd"), "-l", capDir, "-b", "127.0.0.1", "-p", strconv.Itoa(port), "-t", "3600", "-T", "all")
	cmd.Env = append(os.Environ(), "TZ=UTC")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	pkts, err := nfv5.Encode(v5Flows(), 0)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("udp4", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkts {
		if _, err := conn.Write(p); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Microsecond)
	}
	conn.Close()
	time.Sleep(500 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	files, _ := filepath.Glob(filepath.Join(capDir, "nfcapd.2*"))
	if len(files) != 1 {
		t.Fatalf("nfcapd 1.6 wrote %v", files)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	capture := filepath.Join(dir, "nfcapd.202605282025")
	run(t, "cp", files[0], capture)
	for _, c := range []struct{ name, flag string }{{"lzo", "-z"}, {"bz2", "-j"}, {"lz4", "-y"}} {
		run(t, filepath.Join(bin, "nfdump"), "-r", capture, "-w", filepath.Join(dir, "v5."+c.name), c.flag)
	}
	run(t, filepath.Join(bin, "nfdump"), "-r", capture, "-A", "srcip", "-w", filepath.Join(dir, "v5-aggregated.lz4"), "-y")
}
