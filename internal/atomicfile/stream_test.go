package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A character device or a named pipe given as the output is written in
// place: renaming over it would replace the device (as root, /dev/null)
// or leave the pipe's reader waiting forever. The device here is made in
// a temporary directory with /dev/null's numbers, never the real one.
func TestWriteToDeviceAndPipe(t *testing.T) {
	dir := t.TempDir()
	if os.Geteuid() == 0 {
		dev := filepath.Join(dir, "null")
		if err := syscall.Mknod(dev, syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
			t.Fatalf("mknod: %v", err)
		}
		if err := Write(dev, func(w io.Writer) error { _, err := io.WriteString(w, "discarded\n"); return err }); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(dev)
		if err != nil || st.Mode()&os.ModeCharDevice == 0 {
			t.Fatalf("device replaced: %v %v", st.Mode(), err)
		}
		if !IsStream(dev) {
			t.Fatal("IsStream(device) = false")
		}
	} else {
		t.Log("not root: the device case needs mknod")
	}

	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		f, err := os.Open(fifo)
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(f)
		f.Close()
		got <- string(b)
	}()
	if err := Write(fifo, func(w io.Writer) error { _, err := io.WriteString(w, "through the pipe\n"); return err }); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		if s != "through the pipe\n" {
			t.Fatalf("reader got %q", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the pipe's reader got nothing")
	}
	if st, _ := os.Stat(fifo); st.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("pipe replaced by %v", st.Mode())
	}
	if names := dirNames(t, dir); slices.ContainsFunc(names, func(n string) bool { return strings.Contains(n, Tag) }) {
		t.Fatalf("temporary files left: %v", names)
	}
}

// Temporary names carry the writer's pid; Sweep removes those of processes
// that are gone and leaves the live ones (this process's, here) alone.
func TestSweepRemovesOnlyDeadWriters(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no true(1):", err)
	}
	dead := cmd.Process.Pid
	deadFile := fmt.Sprintf(".report.html%s%d-123", Tag, dead)
	deadDir := fmt.Sprintf(".parts%s%d-456", Tag, dead)
	os.WriteFile(filepath.Join(dir, deadFile), []byte("x"), 0o644)
	os.MkdirAll(filepath.Join(dir, deadDir, "date=2026-11-20"), 0o755)
	live, err := TempNear(filepath.Join(dir, "out.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer Remove(live.Name())
	live.Close()
	for _, n := range []string{".report.html.tmp-123", "report.html", "x" + Tag + "1-1"} {
		os.WriteFile(filepath.Join(dir, n), nil, 0o644)
	}
	removed := Sweep(dir)
	slices.Sort(removed)
	if want := []string{deadDir, deadFile}; !slices.Equal(removed, want) {
		t.Fatalf("Sweep removed %v, want %v", removed, want)
	}
	if !slices.Contains(dirNames(t, dir), filepath.Base(live.Name())) {
		t.Fatal("a live writer's temporary file was removed")
	}
}

// Interrupt removes every temporary of the process and refuses later
// renames, so nothing appears after the signal; published files stay.
func TestInterrupt(t *testing.T) {
	dir := t.TempDir()
	pub := filepath.Join(dir, "published")
	if err := Write(pub, func(w io.Writer) error { _, err := io.WriteString(w, "old"); return err }); err != nil {
		t.Fatal(err)
	}
	f, err := TempNear(filepath.Join(dir, "half"))
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("half written")
	d, err := TempDirNear(filepath.Join(dir, "parts"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(d, "part-0"), nil, 0o644)
	t.Cleanup(func() {
		temps.Lock()
		temps.closed = false
		temps.Unlock()
	})
	got := Interrupt()
	// Interrupt holds publishing for good (the process is on its way
	// out): let it go, or the next Dir.Publish in this test binary (-count
	// 2, -shuffle) waits forever.
	t.Cleanup(publishing.Unlock)
	if len(got) != 2 {
		t.Fatalf("Interrupt removed %v", got)
	}
	if err := Publish(f, filepath.Join(dir, "half")); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("Publish after Interrupt: %v", err)
	}
	if _, err := TempNear(pub); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("TempNear after Interrupt: %v", err)
	}
	if got := dirNames(t, dir); !slices.Equal(got, []string{"published"}) {
		t.Fatalf("after Interrupt the directory holds %v", got)
	}
}
