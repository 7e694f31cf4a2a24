package ftfile_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/klauspost/compress/zlib"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/ingest/ftfile"
	"github.com/flowsift/flowsift/samples"
)

var (
	v5Once sync.Once
	v5File []byte // 1,000,000 flows of the sample generator, compressed v5
	v5Hdr  int
)

func benchV5(b *testing.B) []byte {
	v5Once.Do(func() {
		tree, err := samples.CachedTree(filepath.Join(os.TempDir(), "flowsift-bench-1m"), samples.Config{Seed: 1, Flows: 1_000_000, Hours: 24})
		if err != nil {
			b.Fatal(err)
		}
		// Concatenate the day's records into one file, as flow-cat -z 6 would.
		var recs []flow.Record
		filepath.WalkDir(tree, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			f, _ := os.Open(p)
			defer f.Close()
			rd, _ := ftfile.NewReader(f, p, ftfile.Options{})
			buf := make([]flow.Record, 8192)
			for {
				n, err := rd.Read(buf)
				recs = append(recs, buf[:n]...)
				if err != nil {
					return nil
				}
			}
		})
		var out bytes.Buffer
		w, _ := ftfile.NewWriter(&out, ftfile.WriterConfig{ExportVersion: 5, Level: 6})
		w.Write(recs)
		w.Close()
		v5File = out.Bytes()
		h, _ := ftfile.ReadHeader(bytes.NewReader(v5File))
		v5Hdr = h.HeaderLen
	})
	return v5File
}

// BenchmarkInflateOnlyV5 is the floor: inflating the data without decoding.
func BenchmarkInflateOnlyV5(b *testing.B) {
	file := benchV5(b)
	b.SetBytes(int64(len(file)))
	b.ResetTimer()
	var n int64
	buf := make([]byte, 64*4096)
	for i := 0; i < b.N; i++ {
		zr, err := zlib.NewReader(bytes.NewReader(file[v5Hdr:]))
		if err != nil {
			b.Fatal(err)
		}
		for {
			k, err := zr.Read(buf)
			n += int64(k)
			if err == io.EOF {
				break
			}
		}
	}
	b.ReportMetric(float64(n/64)/b.Elapsed().Seconds(), "flows/s")
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
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "flows/s")
}
