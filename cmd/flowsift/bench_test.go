package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowsift/flowsift/internal/benchfix"
)

func benchCLI(b *testing.B, args ...string) {
	tree := benchfix.Tree1M(b)
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "dscan.suppress.src"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "dscan.suppress.dst"), nil, 0o644)
	b.Chdir(dir)
	b.ResetTimer()
	cpu0 := benchfix.CPUTime()
	for i := 0; i < b.N; i++ {
		full := append(append([]string{"flowsift"}, args...), tree)
		if code := run(context.Background(), full, strings.NewReader(""), io.Discard, io.Discard); code != 0 {
			b.Fatalf("exit %d", code)
		}
	}
	b.ReportMetric(float64(1_000_000*b.N)/b.Elapsed().Seconds(), "flows/s")
	b.ReportMetric((benchfix.CPUTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
}

// flowsift dscan end to end: walk, decode, merge, detect, print.
func BenchmarkDscanCompat(b *testing.B)    { benchCLI(b, "dscan", "--compat", "-b") }
func BenchmarkDscanDefaultJ1(b *testing.B) { benchCLI(b, "dscan", "-b", "-j", "1") }
func BenchmarkDscanDefaultJ2(b *testing.B) { benchCLI(b, "dscan", "-b", "-j", "2") }

// flowsift report end to end (dscan + talkers + episodes + all formats).
func BenchmarkReportJ2(b *testing.B) {
	benchCLI(b, "report", "-j", "2", "--generated-at", "2026-11-22T00:00:00Z", "--out", b.TempDir())
}

// The same with dscan alone beside talkers and episodes (--detectors dscan),
// to separate the cost of the issue-5 detectors from the report's own.
func BenchmarkReportDscanOnlyJ2(b *testing.B) {
	benchCLI(b, "report", "-j", "2", "--detectors", "dscan", "--generated-at", "2026-11-22T00:00:00Z", "--out", b.TempDir())
}
