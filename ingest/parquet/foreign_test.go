package parquet

import (
	"bytes"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/flowsift/flowsift/flow"
)

// A file from another tool: a subset of the columns, signed integers,
// microsecond timestamps, a null and a bad address.
func TestForeignParquet(t *testing.T) {
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "start", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
		{Name: "end", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
		{Name: "src_addr", Type: arrow.BinaryTypes.String},
		{Name: "dst_addr", Type: arrow.BinaryTypes.String},
		{Name: "dst_port", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "packets", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer b.Release()
	b.Field(0).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{1700000000123000, 1700000001000000, 1700000002000000}, nil)
	b.Field(1).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{1700000005456000, 1700000002000000, 1700000003000000}, nil)
	b.Field(2).(*array.StringBuilder).AppendValues([]string{"2001:db8::1", "10.0.0.1", "not-an-ip"}, nil)
	b.Field(3).(*array.StringBuilder).AppendValues([]string{"2001:db8::2", "10.0.0.2", "10.0.0.3"}, nil)
	b.Field(4).(*array.Int32Builder).AppendValues([]int32{443, 0, 80}, []bool{true, false, true})
	b.Field(5).(*array.Int64Builder).AppendValues([]int64{5, 6, 7}, nil)
	rec := b.NewRecordBatch()
	defer rec.Release()
	var buf bytes.Buffer
	w, err := pqarrow.NewFileWriter(sch, &buf, nil, pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	w.Close()

	var got []flow.Record
	var skips []flow.Skip
	err = Format{}.Decode("other.parquet", bytes.NewReader(buf.Bytes()), func(b flow.Batch) error { got = append(got, b...); return nil },
		func(s flow.Skip) { skips = append(skips, s) })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || len(skips) != 1 || skips[0].Line != 3 || skips[0].Reason != "bad-row" {
		t.Fatalf("got %d records, skips %+v", len(got), skips)
	}
	r := got[0]
	if r.Start != 1700000000123 || r.End != 1700000005456 || r.Src.String() != "2001:db8::1" || r.DstPort != 443 || r.Packets != 5 {
		t.Fatalf("record %+v", r)
	}
	if r.Fields != flow.FSrcAddr|flow.FDstAddr|flow.FDstPort|flow.FDPkts|flow.FUnixSecs|flow.FUnixNsecs|flow.FSysUptime|flow.FFirst|flow.FLast {
		t.Fatalf("fields %#x", r.Fields)
	}
	if int64(r.FTStartMS()) != r.Start || int64(r.FTEndMS()) != r.End {
		t.Fatalf("raw times not synthesised: %+v", r)
	}
	if got[1].DstPort != 0 {
		t.Fatalf("null port %d", got[1].DstPort)
	}
}
