package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/analyze/dscan"
	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/ingest"
	"github.com/flowsift/flowsift/internal/benchfix"
	"github.com/flowsift/flowsift/policy"
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

// The dscan pass (walk, decode, merge, default engine: what `flowsift dscan
// -j 2` does, without printing) with and without the issue-5 detectors
// running beside the engine as the report runs them. The ratio of the two
// is the detectors' cost over the dscan pass.
func BenchmarkPassDscan(b *testing.B)          { benchPass(b, false) }
func BenchmarkPassDscanDetectors(b *testing.B) { benchPass(b, true) }

func benchPass(b *testing.B, withDetectors bool) {
	tree := benchfix.Tree1M(b)
	b.ResetTimer()
	cpu0 := benchfix.CPUTime()
	for i := 0; i < b.N; i++ {
		cfg := dscan.DefaultConfig()
		cfg.Jobs = 2
		var alerts int
		eng := dscan.New(cfg, func(dscan.Event) { alerts++ })
		var found int
		dets := newExtraDetectors(policy.Default(), nil, map[string]bool{"weighted-ports": true, "trw": true, "heuristics": true},
			func(analyze.Finding) { found++ })
		_, err := ingest.Run(context.Background(), []string{tree}, ingest.Options{Jobs: 2, BatchSize: engineBatch}, func(bt flow.Batch) error {
			if !withDetectors {
				eng.Process(bt)
				return nil
			}
			done := make(chan struct{})
			go func() { dets.Process(bt); close(done) }()
			eng.Process(bt)
			<-done
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		eng.Flush()
		dets.Flush()
		if alerts == 0 || (withDetectors && found == 0) {
			b.Fatalf("no alerts (%d) or findings (%d): the tree has scanners", alerts, found)
		}
	}
	b.ReportMetric(float64(1_000_000*b.N)/b.Elapsed().Seconds(), "flows/s")
	b.ReportMetric((benchfix.CPUTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
}
