package ftcsv

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/internal/fixture"
)

// go test -bench . -benchtime 3x ./ingest/ftcsv/
func BenchmarkDecodeTreeCSVGz(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join(fixture.FlowTools(b), "csv", "ft-tree.export-f2.csv.gz"))
	if err != nil {
		b.Fatal(err)
	}
	var n int
	for b.Loop() {
		n = 0
		err := Format{}.Decode("bench", bytes.NewReader(raw), func(bt flow.Batch) error { n += len(bt); return nil }, func(flow.Skip) {})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "flows/s")
}

func BenchmarkWrite(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join(fixture.FlowTools(b), "formats", "v5.export-f2.csv.gz"))
	if err != nil {
		b.Fatal(err)
	}
	var recs flow.Batch
	var mask uint64
	Format{}.Decode("x", bytes.NewReader(raw), func(bt flow.Batch) error { recs = append(recs, bt...); mask = bt[0].Fields; return nil }, func(flow.Skip) {})
	for b.Loop() {
		w := NewWriter(io.Discard, mask)
		w.Write(recs)
		w.Flush()
	}
	b.ReportMetric(float64(len(recs)*b.N)/b.Elapsed().Seconds(), "flows/s")
}
