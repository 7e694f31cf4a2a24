// Package parquet reads and writes flows as Parquet with the Arrow
// project's Go implementation, in one flat schema that other engines
// (DuckDB, Spark, pandas, ...) read without custom code:
//
//	start, end          TIMESTAMP(MILLIS, UTC)  flow start and end (wrap-corrected)
//	src_addr, dst_addr  STRING                  canonical text form; IPv6 kept
//	src_port, dst_port  UINT16
//	proto, tos, tcp_flags, src_mask, dst_mask, engine_type, engine_id,
//	in_encaps, out_encaps, marked_tos, v7_flags                 UINT8
//	packets, octets     UINT64
//	flows, input, output, src_as, dst_as, extra_pkts, src_tag, dst_tag,
//	unix_secs, unix_nsecs, sysuptime, first, last               UINT32
//	exporter, nexthop, peer_nexthop, router_sc                  STRING ("" = absent)
//	fields              UINT64  which fields the source had (flow-export -m bits)
//
// The raw flow-tools columns (unix_secs ... last) make flow-tools -> Parquet
// -> CSV lossless. Files are written in row groups of 65,536 rows and read
// back batch by batch, so memory does not grow with the file.
//
// The reader also takes Parquet written by other tools that use the same
// column names: only start, end, src_addr and dst_addr are required; other
// columns may be missing (zero), nullable (null = zero), signed, or
// timestamps in another unit. Without a fields column, Fields is the set of
// columns present; without the raw uptime columns they are synthesised from
// start/end (flow.Record.SetUptimeFromTimes). A row with a value that does
// not fit (a bad address, a negative counter) is skipped and reported.
package parquet

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/flowsift/flowsift/flow"
)

// RowGroup is the number of rows per row group the writer makes.
const RowGroup = 65536

// readBatch is the rows read at once, whatever the file's row groups: a
// batch of 65,536 (the row group) made dscan -j 2 over one 16M-flow file
// peak at 249 MB, one of 8,192 at 156 MB, for the same CPU time.
const readBatch = 8192

type kind int

const (
	kTime kind = iota
	kAddr
	k8
	k16
	k32
	k64
)

type column struct {
	name string
	kind kind
	get  func(r *flow.Record) uint64
	set  func(r *flow.Record, v uint64)
	addr func(r *flow.Record) *netip.Addr
}

func u8c(name string, p func(r *flow.Record) *uint8) column {
	return column{name: name, kind: k8, get: func(r *flow.Record) uint64 { return uint64(*p(r)) }, set: func(r *flow.Record, v uint64) { *p(r) = uint8(v) }}
}
func u16c(name string, p func(r *flow.Record) *uint16) column {
	return column{name: name, kind: k16, get: func(r *flow.Record) uint64 { return uint64(*p(r)) }, set: func(r *flow.Record, v uint64) { *p(r) = uint16(v) }}
}
func u32c(name string, p func(r *flow.Record) *uint32) column {
	return column{name: name, kind: k32, get: func(r *flow.Record) uint64 { return uint64(*p(r)) }, set: func(r *flow.Record, v uint64) { *p(r) = uint32(v) }}
}
func u64c(name string, p func(r *flow.Record) *uint64) column {
	return column{name: name, kind: k64, get: func(r *flow.Record) uint64 { return *p(r) }, set: func(r *flow.Record, v uint64) { *p(r) = v }}
}
func addrc(name string, p func(r *flow.Record) *netip.Addr) column {
	return column{name: name, kind: kAddr, addr: p}
}

var columns = []column{
	{name: "start", kind: kTime, get: func(r *flow.Record) uint64 { return uint64(r.Start) }, set: func(r *flow.Record, v uint64) { r.Start = int64(v) }},
	{name: "end", kind: kTime, get: func(r *flow.Record) uint64 { return uint64(r.End) }, set: func(r *flow.Record, v uint64) { r.End = int64(v) }},
	addrc("src_addr", func(r *flow.Record) *netip.Addr { return &r.Src }),
	addrc("dst_addr", func(r *flow.Record) *netip.Addr { return &r.Dst }),
	u16c("src_port", func(r *flow.Record) *uint16 { return &r.SrcPort }),
	u16c("dst_port", func(r *flow.Record) *uint16 { return &r.DstPort }),
	u8c("proto", func(r *flow.Record) *uint8 { return &r.Proto }),
	u64c("packets", func(r *flow.Record) *uint64 { return &r.Packets }),
	u64c("octets", func(r *flow.Record) *uint64 { return &r.Octets }),
	u8c("tcp_flags", func(r *flow.Record) *uint8 { return &r.TCPFlags }),
	u8c("tos", func(r *flow.Record) *uint8 { return &r.ToS }),
	u32c("input", func(r *flow.Record) *uint32 { return &r.Input }),
	u32c("output", func(r *flow.Record) *uint32 { return &r.Output }),
	u32c("src_as", func(r *flow.Record) *uint32 { return &r.SrcAS }),
	u32c("dst_as", func(r *flow.Record) *uint32 { return &r.DstAS }),
	u8c("src_mask", func(r *flow.Record) *uint8 { return &r.SrcMask }),
	u8c("dst_mask", func(r *flow.Record) *uint8 { return &r.DstMask }),
	addrc("exporter", func(r *flow.Record) *netip.Addr { return &r.Exporter }),
	addrc("nexthop", func(r *flow.Record) *netip.Addr { return &r.Nexthop }),
	addrc("peer_nexthop", func(r *flow.Record) *netip.Addr { return &r.PeerNexthop }),
	addrc("router_sc", func(r *flow.Record) *netip.Addr { return &r.RouterSC }),
	u32c("flows", func(r *flow.Record) *uint32 { return &r.Flows }),
	u8c("engine_type", func(r *flow.Record) *uint8 { return &r.EngineType }),
	u8c("engine_id", func(r *flow.Record) *uint8 { return &r.EngineID }),
	u8c("in_encaps", func(r *flow.Record) *uint8 { return &r.InEncaps }),
	u8c("out_encaps", func(r *flow.Record) *uint8 { return &r.OutEncaps }),
	u32c("extra_pkts", func(r *flow.Record) *uint32 { return &r.ExtraPkts }),
	u8c("marked_tos", func(r *flow.Record) *uint8 { return &r.MarkedToS }),
	u8c("v7_flags", func(r *flow.Record) *uint8 { return &r.V7Flags }),
	u32c("src_tag", func(r *flow.Record) *uint32 { return &r.SrcTag }),
	u32c("dst_tag", func(r *flow.Record) *uint32 { return &r.DstTag }),
	u32c("unix_secs", func(r *flow.Record) *uint32 { return &r.UnixSecs }),
	u32c("unix_nsecs", func(r *flow.Record) *uint32 { return &r.UnixNsecs }),
	u32c("sysuptime", func(r *flow.Record) *uint32 { return &r.SysUptime }),
	u32c("first", func(r *flow.Record) *uint32 { return &r.First }),
	u32c("last", func(r *flow.Record) *uint32 { return &r.Last }),
	u64c("fields", func(r *flow.Record) *uint64 { return &r.Fields }),
}

// Schema is the Arrow schema of flowsift's Parquet files.
var Schema = func() *arrow.Schema {
	var fs []arrow.Field
	for _, c := range columns {
		var t arrow.DataType
		switch c.kind {
		case kTime:
			t = &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}
		case kAddr:
			t = arrow.BinaryTypes.String
		case k8:
			t = arrow.PrimitiveTypes.Uint8
		case k16:
			t = arrow.PrimitiveTypes.Uint16
		case k32:
			t = arrow.PrimitiveTypes.Uint32
		case k64:
			t = arrow.PrimitiveTypes.Uint64
		}
		fs = append(fs, arrow.Field{Name: c.name, Type: t})
	}
	return arrow.NewSchema(fs, nil)
}()

// Writer streams flows into a Parquet file.
type Writer struct {
	fw      *pqarrow.FileWriter
	rb      *array.RecordBuilder
	n       int
	group   int
	scratch []byte
}

// WriterOptions tune a Writer; the zero value is the default.
type WriterOptions struct {
	RowGroup int // rows per row group; 0 = RowGroup
}

// NewWriter starts a Parquet file on w (zstd-compressed). Rows are buffered
// in Arrow builders only up to one row group, so memory stays flat however
// many flows are written.
func NewWriter(w io.Writer, opt WriterOptions) (*Writer, error) {
	if opt.RowGroup <= 0 {
		opt.RowGroup = RowGroup
	}
	props := pq.NewWriterProperties(pq.WithCompression(compress.Codecs.Zstd), pq.WithDictionaryDefault(true), pq.WithMaxRowGroupLength(int64(opt.RowGroup)))
	// Hidden behind a plain io.Writer: pqarrow closes a sink that is an
	// io.Closer, and the caller owns w (it renames a temporary file after).
	fw, err := pqarrow.NewFileWriter(Schema, struct{ io.Writer }{w}, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		return nil, err
	}
	return &Writer{fw: fw, rb: array.NewRecordBuilder(memory.DefaultAllocator, Schema), group: opt.RowGroup}, nil
}

// Write appends flows; a row group is written every RowGroup rows.
func (w *Writer) Write(b flow.Batch) error {
	for len(b) > 0 {
		if w.n == 0 {
			// One reservation per row group instead of repeated growth.
			w.rb.Reserve(w.group)
		}
		k := min(len(b), w.group-w.n)
		w.appendRows(b[:k])
		w.n += k
		b = b[k:]
		if w.n == w.group {
			if err := w.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// appendRows fills the builders column by column, so each column's type
// is resolved once per batch rather than once per value.
func (w *Writer) appendRows(b flow.Batch) {
	for j, c := range columns {
		switch fb := w.rb.Field(j).(type) {
		case *array.TimestampBuilder:
			for i := range b {
				fb.Append(arrow.Timestamp(int64(c.get(&b[i]))))
			}
		case *array.StringBuilder:
			for i := range b {
				a := *c.addr(&b[i])
				if !a.IsValid() {
					fb.Append("")
					continue
				}
				w.scratch = a.AppendTo(w.scratch[:0])
				fb.BinaryBuilder.Append(w.scratch)
			}
		case *array.Uint8Builder:
			for i := range b {
				fb.Append(uint8(c.get(&b[i])))
			}
		case *array.Uint16Builder:
			for i := range b {
				fb.Append(uint16(c.get(&b[i])))
			}
		case *array.Uint32Builder:
			for i := range b {
				fb.Append(uint32(c.get(&b[i])))
			}
		case *array.Uint64Builder:
			for i := range b {
				fb.Append(c.get(&b[i]))
			}
		}
	}
}

func (w *Writer) flush() error {
	if w.n == 0 {
		return nil
	}
	rec := w.rb.NewRecordBatch()
	defer rec.Release()
	w.n = 0
	return w.fw.Write(rec)
}

// Close writes the last row group and the footer; it does not close the
// io.Writer given to NewWriter.
func (w *Writer) Close() error {
	if err := w.flush(); err != nil {
		return err
	}
	w.rb.Release()
	return w.fw.Close()
}

// Format is the Parquet driver for package ingest.
type Format struct{}

// Name implements ingest.Format.
func (Format) Name() string { return "parquet" }

// Sniff implements ingest.Format: the PAR1 magic.
func (Format) Sniff(head []byte, _ string) bool { return bytes.HasPrefix(head, []byte("PAR1")) }

// Decode implements ingest.Format. Parquet needs random access: an
// *os.File (or any io.ReaderAt with io.Seeker) is read in place; any other
// reader is read into memory first.
//
// A damaged file never stops the run. arrow-go panics on much corrupt input
// (nil dereferences, slices of impossible length, arrays of mismatched
// lengths: about one file in a hundred with a few random bytes changed,
// found by FuzzDecode), so its panics are caught, where the state they leave
// behind is only this file's. Row groups are read one at a time: damage in
// one loses the rest of that group, reported as one "corrupt" skip with
// the rows lost, and the next group is read. A file whose footer or schema
// is damaged, or none of whose rows could be read, is unreadable (an
// error). A panic while emit runs is not the file's fault and is not
// caught.
func (Format) Decode(path string, r io.Reader, emit func(flow.Batch) error, skip func(flow.Skip)) (err error) {
	d := &decoder{path: path, emit: emit, skip: skip}
	defer func() {
		if e := recover(); e != nil {
			if d.emitting {
				panic(e)
			}
			err = fmt.Errorf("read %s: corrupt Parquet file: parquet reader failed: %v", path, e)
		}
	}()
	return d.decode(r)
}

// decoder is one file's read.
type decoder struct {
	path     string
	emit     func(flow.Batch) error
	skip     func(flow.Skip)
	emitting bool
	row      int64 // rows of the file passed so far, read or lost
	read     int64 // rows read (emitted or reported as bad rows)
	lost     []flow.Skip

	idx       []int  // schema field of each of columns, -1 when absent
	present   uint64 // F bits of the columns the file has
	hasFields bool
	rawTimes  bool
	batch     flow.Batch
	bad       []bool
}

func (d *decoder) decode(r io.Reader) error {
	path := d.path
	var ra pq.ReaderAtSeeker
	if f, ok := r.(*os.File); ok {
		ra = f
	} else if rs, ok := r.(pq.ReaderAtSeeker); ok {
		ra = rs
	} else {
		b, err := io.ReadAll(r)
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		ra = bytes.NewReader(b)
	}
	pf, err := file.NewParquetReader(ra)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	defer pf.Close()
	// The Arrow schema a writer stores in the footer is a flatbuffer whose
	// counts arrow-go trusts: a few flipped bytes there made it ask for 82
	// GB and kill the process (found by FuzzDecode). Columns are found by
	// name and their types follow from the Parquet schema, so the stored
	// one is hidden from pqarrow rather than validated.
	for _, kv := range pf.MetaData().KeyValueMetadata() {
		if kv != nil && kv.Key == "ARROW:schema" {
			kv.Key = "flowsift-ignored:ARROW:schema"
		}
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: readBatch}, memory.DefaultAllocator)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	d.idx = make([]int, len(columns))
	sch, err := fr.Schema()
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	for i, c := range columns {
		d.idx[i] = -1
		if f := sch.FieldIndices(c.name); len(f) > 0 {
			d.idx[i] = f[0]
			d.present |= fieldBit[c.name]
		}
	}
	for _, name := range []string{"start", "end", "src_addr", "dst_addr"} {
		if f := sch.FieldIndices(name); len(f) == 0 {
			return fmt.Errorf("read %s: not a flow Parquet file: no column %q", path, name)
		}
	}
	_, d.hasFields = fieldIndex(sch, "fields")
	raw := flow.FUnixSecs | flow.FSysUptime | flow.FFirst | flow.FLast
	d.rawTimes = d.present&raw == raw
	d.batch = make(flow.Batch, 0, readBatch)
	size := pf.MetaData().GetSourceFileSize()
	for g := range pf.NumRowGroups() {
		rg := pf.MetaData().RowGroup(g)
		rows := max(rg.NumRows(), 0)
		// arrow-go allocates a column chunk's whole length, as the footer
		// gives it, before reading: a damaged length asked for 16 GB in a
		// fuzzed 12 kB file, and a larger one would end the process. A
		// chunk must lie inside the file.
		if err := chunksInside(rg, size); err != nil {
			d.lose(g, d.row+rows, err)
			continue
		}
		if err := d.group(fr, g, rows); err != nil {
			return err
		}
	}
	if d.read == 0 && len(d.lost) > 0 {
		return fmt.Errorf("read %s: corrupt Parquet file: no row could be read (%s)", path, d.lost[0].Detail)
	}
	for _, s := range d.lost {
		d.skip(s)
	}
	return nil
}

// lose notes that the rows of row group g from the current one to end
// were not read, for cause.
func (d *decoder) lose(g int, end int64, cause any) {
	lost := max(end-d.row, 1)
	d.lost = append(d.lost, flow.Skip{Path: d.path, Offset: -1, Line: d.row + 1, Reason: "corrupt", Count: lost,
		Detail: fmt.Sprintf("row group %d: rows %d-%d not read: %v", g, d.row+1, d.row+lost, cause)})
	d.row = max(end, d.row)
}

// chunksInside checks that every column chunk of a row group lies inside a
// file of size bytes.
func chunksInside(rg *metadata.RowGroupMetaData, size int64) error {
	for i := range rg.NumColumns() {
		col, err := rg.ColumnChunk(i)
		if err != nil {
			return err
		}
		start := col.DataPageOffset()
		if dict := col.DictionaryPageOffset(); col.HasDictionaryPage() && dict > 0 && dict < start {
			start = dict
		}
		n := col.TotalCompressedSize()
		if start < 0 || n < 0 || start > size || n > size-start {
			return fmt.Errorf("column chunk %d: %d bytes at offset %d, outside the file's %d bytes", i, n, start, size)
		}
	}
	return nil
}

// group reads row group g, of rows rows. A failure inside the group (an
// error or a panic of the Parquet library) ends it and is noted in d.lost;
// the error returned is emit's, or a column the reader cannot convert.
func (d *decoder) group(fr *pqarrow.FileReader, g int, rows int64) (err error) {
	end := d.row + rows
	fail := func(cause any) { d.lose(g, end, cause) }
	defer func() {
		if e := recover(); e != nil {
			if d.emitting {
				panic(e)
			}
			fail(fmt.Sprintf("parquet reader failed: %v", e))
			err = nil
		}
	}()
	rr, err := fr.GetRecordReader(context.Background(), nil, []int{g})
	if err != nil {
		fail(err)
		return nil
	}
	defer rr.Release()
	for rr.Next() {
		if err := d.records(rr.RecordBatch()); err != nil {
			return err
		}
	}
	if err := rr.Err(); err != nil && err != io.EOF {
		fail(err)
	}
	return nil
}

// records converts one record batch and emits its good rows.
func (d *decoder) records(rec arrow.RecordBatch) error {
	path := d.path
	n := int(rec.NumRows())
	batch := d.batch[:n]
	clear(batch)
	d.bad = append(d.bad[:0], make([]bool, n)...)
	for i, c := range columns {
		if d.idx[i] < 0 {
			continue
		}
		if err := fillColumn(batch, d.bad, c, rec.Column(d.idx[i]), func(k int, err error) {
			d.skip(flow.Skip{Path: path, Offset: -1, Line: d.row + int64(k) + 1, Reason: "bad-row", Count: 1,
				Detail: fmt.Sprintf("row %d: column %s: %v", d.row+int64(k)+1, c.name, err)})
		}); err != nil {
			return fmt.Errorf("read %s: column %s: %w", path, c.name, err)
		}
	}
	d.row += int64(n)
	d.read += int64(n)
	out := batch[:0]
	for k := range batch {
		if d.bad[k] {
			continue
		}
		r := batch[k]
		if !d.hasFields {
			r.Fields = d.present
		}
		if !d.rawTimes {
			// Another tool's file: make the flow-tools view agree, and say
			// so in Fields so a CSV writer keeps the times (as the nfdump
			// reader does).
			r.SetUptimeFromTimes()
			if !d.hasFields {
				r.Fields |= flow.FUnixSecs | flow.FUnixNsecs | flow.FSysUptime | flow.FFirst | flow.FLast
			}
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil
	}
	d.emitting = true
	err := d.emit(out)
	d.emitting = false
	return err
}

func fieldIndex(sch *arrow.Schema, name string) (int, bool) {
	f := sch.FieldIndices(name)
	if len(f) == 0 {
		return -1, false
	}
	return f[0], true
}

// fieldBit maps columns to the flow-export bits they carry, for files
// without a fields column (written by other tools).
var fieldBit = map[string]uint64{
	"src_addr": flow.FSrcAddr, "dst_addr": flow.FDstAddr, "src_port": flow.FSrcPort, "dst_port": flow.FDstPort,
	"proto": flow.FProt, "packets": flow.FDPkts, "octets": flow.FDOctets, "tcp_flags": flow.FTCPFlags, "tos": flow.FTos,
	"input": flow.FInput, "output": flow.FOutput, "src_as": flow.FSrcAS, "dst_as": flow.FDstAS,
	"src_mask": flow.FSrcMask, "dst_mask": flow.FDstMask, "exporter": flow.FExaddr, "nexthop": flow.FNexthop,
	"peer_nexthop": flow.FPeerNexthop, "router_sc": flow.FRouterSC, "flows": flow.FDFlows,
	"engine_type": flow.FEngineType, "engine_id": flow.FEngineID, "in_encaps": flow.FInEncaps, "out_encaps": flow.FOutEncaps,
	"extra_pkts": flow.FExtraPkts, "marked_tos": flow.FMarkedTos, "src_tag": flow.FSrcTag, "dst_tag": flow.FDstTag,
	"unix_secs": flow.FUnixSecs, "unix_nsecs": flow.FUnixNsecs, "sysuptime": flow.FSysUptime, "first": flow.FFirst, "last": flow.FLast,
}

// fillColumn stores one column of a record batch into the records. Besides
// flowsift's own types it accepts what other writers commonly use (signed
// integers, other timestamp units, binary or large strings, nulls = zero),
// so Parquet from other tools with the same column names reads too. A value
// that cannot be stored marks its row bad (reported via badRow); a column
// of an unusable type is an error for the file.
func fillColumn(batch flow.Batch, bad []bool, c column, col arrow.Array, badRow func(int, error)) error {
	n := len(batch)
	setInt := func(k int, v int64) {
		if v < 0 {
			bad[k] = true
			badRow(k, fmt.Errorf("negative value %d", v))
			return
		}
		c.set(&batch[k], uint64(v))
	}
	setAddr := func(k int, s string) {
		if s == "" {
			return
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			bad[k] = true
			badRow(k, fmt.Errorf("not an IP address: %q", s))
			return
		}
		*c.addr(&batch[k]) = a
	}
	if c.kind == kAddr {
		for k := 0; k < n; k++ {
			if col.IsNull(k) {
				continue
			}
			switch a := col.(type) {
			case *array.String:
				setAddr(k, a.Value(k))
			case *array.LargeString:
				setAddr(k, a.Value(k))
			case *array.Binary:
				setAddr(k, string(a.Value(k)))
			default:
				return fmt.Errorf("type %s cannot hold an address", col.DataType())
			}
		}
		return nil
	}
	for k := 0; k < n; k++ {
		if col.IsNull(k) {
			continue
		}
		switch a := col.(type) {
		case *array.Timestamp:
			v := int64(a.Value(k))
			switch a.DataType().(*arrow.TimestampType).Unit {
			case arrow.Second:
				v *= 1000
			case arrow.Microsecond:
				v /= 1000
			case arrow.Nanosecond:
				v /= 1000000
			}
			c.set(&batch[k], uint64(v)) // times may be negative: stored as int64 bits
		case *array.Uint8:
			c.set(&batch[k], uint64(a.Value(k)))
		case *array.Uint16:
			c.set(&batch[k], uint64(a.Value(k)))
		case *array.Uint32:
			c.set(&batch[k], uint64(a.Value(k)))
		case *array.Uint64:
			c.set(&batch[k], a.Value(k))
		case *array.Int8:
			setInt(k, int64(a.Value(k)))
		case *array.Int16:
			setInt(k, int64(a.Value(k)))
		case *array.Int32:
			setInt(k, int64(a.Value(k)))
		case *array.Int64:
			if c.kind == kTime {
				c.set(&batch[k], uint64(a.Value(k)))
			} else {
				setInt(k, a.Value(k))
			}
		default:
			return fmt.Errorf("type %s is not a number", col.DataType())
		}
	}
	return nil
}
