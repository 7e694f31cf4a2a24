package nfv5

import (
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/internal/fixture"
)

// lockedBuffer lets the test read nfcapd's log while nfcapd writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// CaptureWithNfcapd is a test helper: it starts nfcapd bound to 127.0.0.1 on
// a free UDP port, writing to a temporary directory, sends recs to it as
// NetFlow v5 (loopback only, paced so the socket buffer cannot overflow),
// stops nfcapd with SIGTERM (which closes the file) and returns the nfcapd
// file. When nfcapd is not installed (Debian package "nfdump") it skips the
// test, or fails it where CI is set (fixture.NeedProgram); it skips when
// loopback UDP is unavailable, and fails when nfcapd did not record every
// flow.
func CaptureWithNfcapd(t testing.TB, recs []flow.Record) string {
	t.Helper()
	return CaptureWithNfcapdArgs(t, recs)
}

// CaptureWithNfcapdArgs is CaptureWithNfcapd with more nfcapd options
// (such as -s 100, a default sampling rate).
func CaptureWithNfcapdArgs(t testing.TB, recs []flow.Record, args ...string) string {
	t.Helper()
	pkts, err := Encode(recs, 0)
	if err != nil {
		t.Fatal(err)
	}
	return CapturePackets(t, pkts, len(recs), args...)
}

// CapturePackets sends export packets of any NetFlow version nfcapd
// reads (v5, v9, IPFIX) to a real nfcapd as CaptureWithNfcapd does, and
// checks that it recorded flows flows.
func CapturePackets(t testing.TB, pkts [][]byte, flows int, args ...string) string {
	t.Helper()
	nfcapd := fixture.NeedProgram(t, "nfcapd") // Debian package nfdump
	dir := t.TempDir()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback UDP: %v", err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	logb := &lockedBuffer{}
	cmd := exec.Command(nfcapd, append([]string{"-w", dir, "-b", "127.0.0.1", "-p", strconv.Itoa(port), "-t", "3600"}, args...)...)
	cmd.Stdout, cmd.Stderr = logb, logb
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nfcapd: %v", err)
	}
	stopped := false
	defer func() {
		if !stopped {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logb.String(), "Startup") {
		if time.Now().After(deadline) {
			t.Fatalf("nfcapd did not start: %s", logb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	conn, err := net.Dial("udp4", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, p := range pkts {
		if _, err := conn.Write(p); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Microsecond)
	}
	time.Sleep(300 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	stopped = true
	files, _ := filepath.Glob(filepath.Join(dir, "nfcapd.2*"))
	if len(files) != 1 {
		t.Fatalf("nfcapd files %v; log:\n%s", files, logb.String())
	}
	if !strings.Contains(logb.String(), fmt.Sprintf("Flows: %d,", flows)) {
		t.Fatalf("nfcapd did not receive every flow:\n%s", logb.String())
	}
	return files[0]
}
