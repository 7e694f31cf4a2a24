package parquet

import (
	"bytes"
	"io"
	"testing"

	"github.com/flowsift/flowsift/flow"
)

func benchRecords(b *testing.B, n int) []flow.Record {
	base := fixtureRecords(b, "formats/v5.export-f2.csv.gz")
	recs := make([]flow.Record, n)
	for i := range recs {
		recs[i] = base[i%len(base)]
		recs[i].Start += int64(i)
		recs[i].End += int64(i)
	}
	return recs
}

// go test -bench . -benchtime 3x ./ingest/parquet/
func BenchmarkWrite(b *testing.B) {
	recs := benchRecords(b, 200_000)
	b.ResetTimer()
	for b.Loop() {
		w, err := NewWriter(io.Discard, WriterOptions{})
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < len(recs); i += 4096 {
			if err := w.Write(recs[i:min(i+4096, len(recs))]); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(recs)*b.N)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkRead(b *testing.B) {
	recs := benchRecords(b, 200_000)
	data := writeAll(b, recs, WriterOptions{})
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		n := 0
		err := Format{}.Decode("bench", bytes.NewReader(data), func(bt flow.Batch) error { n += len(bt); return nil }, func(flow.Skip) {})
		if err != nil || n != len(recs) {
			b.Fatal(n, err)
		}
	}
	b.ReportMetric(float64(len(recs)*b.N)/b.Elapsed().Seconds(), "rows/s")
}
