package parquet

import (
	"bytes"
	"testing"

	"github.com/xitongsys/parquet-go/common"
	xreader "github.com/xitongsys/parquet-go/reader"
	"github.com/xitongsys/parquet-go/source"
)

// memFile is the smallest source.ParquetFile: read-only, in memory; Open
// gives each column reader its own cursor on the same bytes.
type memFile struct {
	*bytes.Reader
	data []byte
}

func (memFile) Write([]byte) (int, error) { return 0, nil }
func (memFile) Close() error              { return nil }
func (m memFile) Open(string) (source.ParquetFile, error) {
	return memFile{bytes.NewReader(m.data), m.data}, nil
}
func (m memFile) Create(string) (source.ParquetFile, error) { return nil, nil }

// TestReadableByXitongsys reads flowsift's Parquet with a second, independent
// implementation and compares every value of several columns, so the files
// are known to work outside Arrow.
func TestReadableByXitongsys(t *testing.T) {
	recs := fixtureRecords(t, "formats/v5.export-f2.csv.gz")
	extra := recs[0]
	extra.Src = netipMust("2001:db8::1")
	recs = append(recs, extra)
	data := writeAll(t, recs, WriterOptions{RowGroup: 500})

	pf := memFile{bytes.NewReader(data), data}
	pr, err := xreader.NewParquetReader(pf, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer pr.ReadStop()
	if n := pr.GetNumRows(); n != int64(len(recs)) {
		t.Fatalf("xitongsys sees %d rows, want %d", n, len(recs))
	}
	col := func(name string) []interface{} {
		v, _, _, err := pr.ReadColumnByPath(pr.SchemaHandler.GetRootExName()+common.PAR_GO_PATH_DELIMITER+name, int64(len(recs)))
		if err != nil {
			t.Fatalf("column %s: %v", name, err)
		}
		if len(v) != len(recs) {
			t.Fatalf("column %s: %d values", name, len(v))
		}
		return v
	}
	start, end := col("start"), col("end")
	src, dst := col("src_addr"), col("dst_addr")
	sport, dport, proto := col("src_port"), col("dst_port"), col("proto")
	pkts, octets, usecs, fields := col("packets"), col("octets"), col("unix_secs"), col("fields")
	for i, r := range recs {
		// Parquet has no unsigned physical types: UINT_8/16/32 are stored in
		// INT32 and UINT_64 in INT64, which is what a plain reader returns.
		got := []any{start[i], end[i], src[i], dst[i], sport[i], dport[i], proto[i], pkts[i], octets[i], usecs[i], fields[i]}
		want := []any{r.Start, r.End, r.Src.String(), r.Dst.String(), int32(r.SrcPort), int32(r.DstPort), int32(r.Proto),
			int64(r.Packets), int64(r.Octets), int32(r.UnixSecs), int64(r.Fields)}
		for k := range got {
			if got[k] != want[k] {
				t.Fatalf("row %d value %d: xitongsys %T %v, flowsift %T %v", i, k, got[k], got[k], want[k], want[k])
			}
		}
	}
	// The logical types other engines rely on.
	for _, se := range pr.Footer.Schema {
		switch se.Name {
		case "start":
			lt := se.GetLogicalType()
			if lt == nil || lt.TIMESTAMP == nil || !lt.TIMESTAMP.IsAdjustedToUTC || lt.TIMESTAMP.Unit.MILLIS == nil {
				t.Errorf("start logical type %v", lt)
			}
		case "packets":
			lt := se.GetLogicalType()
			if lt == nil || lt.INTEGER == nil || lt.INTEGER.IsSigned || lt.INTEGER.BitWidth != 64 {
				t.Errorf("packets logical type %v", lt)
			}
		}
	}
}
