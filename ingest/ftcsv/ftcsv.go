// Package ftcsv reads and writes flow-export's ASCII CSV (-f 2): a "#:"
// line naming the columns, then one comma-separated line per flow. The
// writer is byte-identical to flow-tools 0.68's output, label quirks
// included, so scripts that parse flow-export keep working.
package ftcsv

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"github.com/klauspost/compress/gzip"
	"io"
	"net/netip"
	"strconv"
	"strings"

	"github.com/flowsift/flowsift/flow"
)

type column struct {
	bit   uint64
	label string // as flow-export prints it in the "#:" line
	name  string // the field's real name
	put   func(b []byte, r *flow.Record) []byte
	set   func(r *flow.Record, s string) error
}

func u(b []byte, v uint64) []byte { return strconv.AppendUint(b, v, 10) }

func ip(b []byte, a netip.Addr) []byte {
	if !a.IsValid() {
		return append(b, "0.0.0.0"...)
	}
	return a.AppendTo(b)
}

func setU(bits int, dst func(r *flow.Record, v uint64)) func(r *flow.Record, s string) error {
	return func(r *flow.Record, s string) error {
		v, err := strconv.ParseUint(s, 10, bits)
		if err != nil {
			return fmt.Errorf("not an unsigned %d-bit number: %q", bits, s)
		}
		dst(r, v)
		return nil
	}
}

func setIP(dst func(r *flow.Record, a netip.Addr)) func(r *flow.Record, s string) error {
	return func(r *flow.Record, s string) error {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return fmt.Errorf("not an IP address: %q", s)
		}
		dst(r, a)
		return nil
	}
}

// columns in flow-export's fixed output order. Two quirks of 0.68 live
// here: peer_nexthop is labelled "nexthop", and marked_tos is printed
// before extra_pkts although the labels say extra_pkts,marked_tos.
var columns = []column{
	{flow.FUnixSecs, "unix_secs", "unix_secs", func(b []byte, r *flow.Record) []byte { return u(b, uint64(r.UnixSecs)) }, setU(32, func(r *flow.Record, v uint64) { r.UnixSecs = uint32(v) })},
	{flow.FUnixNsecs, "unix_nsecs", "unix_nsecs", func(b []byte, r *flow.Record) []byte { return u(b, uint64(r.UnixNsecs)) }, setU(32, func(r *flow.Record, v uint64) { r.UnixNsecs = uint32(v) })},
	{flow.FSysUptime, "sysuptime", "sysuptime", func(b []byte, r *flow.Record) []byte { return u(b, uint64(r.SysUptime)) }, setU(32, func(r *flow.Record, v uint64) { r.SysUptime = uint32(v) })},
	{flow.FExaddr, "exaddr", "exaddr", func(b []byte, r *flow.Record) []byte { return ip(b, r.Exporter) }, setIP(func(r *flow.Record, a netip.Addr) { r.Exporter = a })},
	{flow.FDFlows, "dflows", "dflows", func(b []byte, r *flow.Record) []byte { return u(b, uint64(r.Flows)) }, setU(32, func(r *flow.Record, v uint64) { r.Flows = uint32(v) })},
	{flow.FDPkts, "dpkts", "dpkts", func(b []byte, r *flow.Record) []byte { return u(b, r.Packets) }, setU(64, func(r *flow.Record, v uint64) { r.Packets = v })},
	{flow.FDOctets, "doctets", "doctets", func(b []byte, r *flow.Record) []byte { return u(b, r.Octets) }, setU(64, func(r *flow.Record, v uint64) { r.Octets = v })},
	{flow.FFirst, "first", "first", func(b []byte, r *flow.Record) []byte { return u(b, uint64(r.First)) }, setU(32, func(r *flow.Record, v uint64) { r.First = uint32(v) })},
	{flow.FLast, "last", "last", func(b []byte, r *flow.Record) []byte { return u(b, uint64(r.Last)) }, setU(32, func(r *flow.Record, v uint64) { r.Last = uint32(v) })},
	{flow.FEngineType, "engine_type", "engine_type", func(b []byte, r *flow.Record) []byte { return u(b, uint64(r.EngineType)) }, setU(8, func(r *flow.Record, v uint64) { r.EngineType = uint8(v) })},
	{flow.FEngineID, "engine_id", "engine_id", func(b []byte, r *flow.Record) []byte { return u(b, uint64(r.EngineID)) }, setU(8, func(r *flow.Record, v uint64) { r.EngineID = uint8(v) })},
	{flow.FSrcAddr, "srcaddr", "srcaddr", func(b []byte, r *flow.Record) []byte { return ip(b, r.Src) }, setIP(func(r *flow.Record, a netip.Addr) { r.Src = a })},
	{flow.FDstAddr, "dstaddr", "dstaddr", func(b []byte, r *flow.Record) []byte { return ip(b, r.Dst) }, setIP(func(r *flow.Record, a netip.Addr) { r.Dst = a })},
	{flow.FNexthop, "nexthop", "nexthop", func(b []byte, r *flow.Record) []byte { return ip(b, r.Nexthop) }, setIP(func(r *flow.Record, a netip.Addr) { r.Nexthop = a })},
	{flow.FInput, "input", "input", func(b []byte, r *flow.Record) []byte { return u(b, uint64(r.Input)) }, setU(32, func(r *flow.Record, v uint64) { r.Input = uint32(v) })},
	{flow.FOutput, "output", "output", func(b []byte, r *flow.Record) []byte { return u(b, uint64(r.Output)) }, setU(32, func(r *flow.Record, v uint64) { r.Output = uint32(v) })},
	{flow.FSrcPort, "srcport", "srcport", func(b []byte, r *flow.Record) []byte { return u(b, uint64(r.SrcPort)) }, setU(16, func(r *flow.Record, v uint64) { r.SrcPort = uint16(v) })},
	{flow.FDstPort, "dstport", "dstport", func(b []byte, r *flow.Record) []byte { return u(b, uint64(r.DstPort)) }, setU(16, func(r *flow.Record, v uint64) { r.DstPort = uint16(v) })},
	{flow.FProt, "prot", "prot", func(b []byte, r *flow.Record) []byte { return u(b, uint64(r.Proto)) }, setU(8, func(r *flow.Record, v uint64) { r.Proto = uint8(v) })},
	{flow.FTos, "tos", "tos", func(b []byte, r *flow.Record) []byte { return u(b, uint64(r.ToS)) }, setU(8, func(r *flow.Record, v uint64) { r.ToS = uint8(v) })},
	{flow.FTCPFlags, "tcp_flags", "tcp_flags", func(b []byte, r *flow.Record) []byte { return u(b, uint64(r.TCPFlags)) }, setU(8, func(r *flow.Record, v uint64) { r.TCPFlags = uint8(v) })},
	{flow.FSrcMask, "src_mask", "src_mask", func(b []byte, r *flow.Record) []byte { return u(b, uint64(r.SrcMask)) }, setU(8, func(r *flow.Record, v uint64) { r.SrcMask = uint8(v) })},
	{flow.FDstMask, "dst_mask", "dst_mask", func(b []byte, r *flow.Record) []byte { return u(b, uint64(r.DstMask)) }, setU(8, func(r *flow.Record, v uint64) { r.DstMask = uint8(v) })},
	{flow.FSrcAS, "src_as", "src_as", func(b []byte, r *flow.Record) []byte { return u(b, uint64(r.SrcAS)) }, setU(32, func(r *flow.Record, v uint64) { r.SrcAS = uint32(v) })},
	{flow.FDstAS, "dst_as", "dst_as", func(b []byte, r *flow.Record) []byte { return u(b, uint64(r.DstAS)) }, setU(32, func(r *flow.Record, v uint64) { r.DstAS = uint32(v) })},
	{flow.FInEncaps, "in_encaps", "in_encaps", func(b []byte, r *flow.Record) []byte { return u(b, uint64(r.InEncaps)) }, setU(8, func(r *flow.Record, v uint64) { r.InEncaps = uint8(v) })},
	{flow.FOutEncaps, "out_encaps", "out_encaps", func(b []byte, r *flow.Record) []byte { return u(b, uint64(r.OutEncaps)) }, setU(8, func(r *flow.Record, v uint64) { r.OutEncaps = uint8(v) })},
	{flow.FPeerNexthop, "nexthop", "peer_nexthop", func(b []byte, r *flow.Record) []byte { return ip(b, r.PeerNexthop) }, setIP(func(r *flow.Record, a netip.Addr) { r.PeerNexthop = a })},
	{flow.FRouterSC, "router_sc", "router_sc", func(b []byte, r *flow.Record) []byte { return ip(b, r.RouterSC) }, setIP(func(r *flow.Record, a netip.Addr) { r.RouterSC = a })},
	// value order swapped against the labels (see above)
	{flow.FMarkedTos, "extra_pkts", "marked_tos", func(b []byte, r *flow.Record) []byte { return u(b, uint64(r.MarkedToS)) }, setU(8, func(r *flow.Record, v uint64) { r.MarkedToS = uint8(v) })},
	{flow.FExtraPkts, "marked_tos", "extra_pkts", func(b []byte, r *flow.Record) []byte { return u(b, uint64(r.ExtraPkts)) }, setU(32, func(r *flow.Record, v uint64) { r.ExtraPkts = uint32(v) })},
	{flow.FSrcTag, "src_tag", "src_tag", func(b []byte, r *flow.Record) []byte { return u(b, uint64(r.SrcTag)) }, setU(32, func(r *flow.Record, v uint64) { r.SrcTag = uint32(v) })},
	{flow.FDstTag, "dst_tag", "dst_tag", func(b []byte, r *flow.Record) []byte { return u(b, uint64(r.DstTag)) }, setU(32, func(r *flow.Record, v uint64) { r.DstTag = uint32(v) })},
}

// Writer prints flows as flow-export -f 2 does for a field mask.
type Writer struct {
	w    *bufio.Writer
	cols []column
	line []byte
	head bool
}

// NewWriter prints the columns of mask (flow-export -m bits) in
// flow-export's fixed order.
func NewWriter(w io.Writer, mask uint64) *Writer {
	wr := &Writer{w: bufio.NewWriterSize(w, 256*1024)}
	for _, c := range columns {
		if mask&c.bit != 0 {
			wr.cols = append(wr.cols, c)
		}
	}
	return wr
}

func (w *Writer) header() error {
	w.head = true
	labels := make([]string, len(w.cols))
	for i, c := range w.cols {
		labels[i] = c.label
	}
	// With only one of the swapped pair selected, its label is its name.
	if !(hasBit(w.cols, flow.FMarkedTos) && hasBit(w.cols, flow.FExtraPkts)) {
		for i, c := range w.cols {
			if c.bit == flow.FMarkedTos || c.bit == flow.FExtraPkts {
				labels[i] = c.name
			}
		}
	}
	_, err := w.w.WriteString("#:" + strings.Join(labels, ",") + "\n")
	return err
}

func hasBit(cols []column, bit uint64) bool {
	for _, c := range cols {
		if c.bit == bit {
			return true
		}
	}
	return false
}

// Write prints a batch.
func (w *Writer) Write(b flow.Batch) error {
	if !w.head {
		if err := w.header(); err != nil {
			return err
		}
	}
	for i := range b {
		line := w.line[:0]
		for j, c := range w.cols {
			if j > 0 {
				line = append(line, ',')
			}
			line = c.put(line, &b[i])
		}
		line = append(line, '\n')
		w.line = line
		if _, err := w.w.Write(line); err != nil {
			return err
		}
	}
	return nil
}

// Flush writes the header if nothing was written yet, and buffered lines.
func (w *Writer) Flush() error {
	if !w.head {
		if err := w.header(); err != nil {
			return err
		}
	}
	return w.w.Flush()
}

// Format is the flow-export CSV driver for package ingest (plain or gzip).
type Format struct {
	Strict bool // the first bad row is fatal
}

// Name implements ingest.Format.
func (Format) Name() string { return "flow-export-csv" }

// Sniff implements ingest.Format: a "#:" first line, possibly gzipped.
func (Format) Sniff(head []byte, _ string) bool {
	if len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(head))
		if err != nil {
			return false
		}
		var b [5]byte
		n, _ := io.ReadFull(zr, b[:])
		return bytes.HasPrefix(bytes.TrimPrefix(b[:n], []byte(flow.BOM)), []byte("#:"))
	}
	return bytes.HasPrefix(bytes.TrimPrefix(head, []byte(flow.BOM)), []byte("#:"))
}

// Decode implements ingest.Format.
func (f Format) Decode(path string, r io.Reader, emit func(flow.Batch) error, skip func(flow.Skip)) error {
	br := bufio.NewReaderSize(r, 256*1024)
	if b, _ := br.Peek(2); len(b) == 2 && b[0] == 0x1f && b[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("read %s: gzip: %w", path, err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 256*1024)
	}
	if b, _ := br.Peek(len(flow.BOM)); string(b) == flow.BOM {
		br.Discard(len(flow.BOM))
	}
	first, err := br.ReadString('\n')
	if err != nil && first == "" {
		if err != io.EOF {
			return fmt.Errorf("read %s: %w", path, err)
		}
		return fmt.Errorf("read %s: empty file, no \"#:\" header line", path)
	}
	cols, mask, err := parseHeader(strings.TrimRight(first, "\r\n"))
	if err != nil {
		return fmt.Errorf("read %s: line 1: %w", path, err)
	}
	haveTimes := mask&(flow.FUnixSecs|flow.FSysUptime|flow.FFirst|flow.FLast) == flow.FUnixSecs|flow.FSysUptime|flow.FFirst|flow.FLast
	batch := make(flow.Batch, 0, 4096)
	bad := flow.BadRows{Path: path, Skip: skip}
	line := int64(1)
	fields := make([]string, 0, len(cols))
	for {
		s, err := br.ReadString('\n')
		if err != nil && err != io.EOF {
			// The stream broke (a gzip file cut short or damaged, an I/O
			// error): the rows before it stay read, the partial line with
			// the break goes with the rest.
			if f.Strict {
				return fmt.Errorf("read %s: line %d: %w", path, line+1, err)
			}
			bad.Flush()
			sk := flow.BrokenTail(path, line+1, err)
			if errors.Is(err, gzip.ErrChecksum) {
				// Only the end of a gzip stream says whether it was
				// damaged: by then its rows are read, and some may be wrong.
				sk.Detail = fmt.Sprintf("the gzip data failed its checksum at the end of the file: it is damaged, and the %d rows read from it may hold wrong values", line-1)
			}
			skip(sk)
			break
		}
		if s == "" {
			break
		}
		line++
		if !strings.HasSuffix(s, "\n") {
			bad.Flush()
			skip(flow.Unterminated(path, line, s))
			break
		}
		s = strings.TrimRight(s, "\r\n")
		var rec flow.Record
		rec.Fields = mask
		fields = splitComma(fields[:0], s)
		var perr error
		if len(fields) != len(cols) {
			perr = fmt.Errorf("%d columns, the header names %d", len(fields), len(cols))
		} else {
			for i, c := range cols {
				if err := c.set(&rec, fields[i]); err != nil {
					perr = fmt.Errorf("column %d (%s): %w", i+1, c.name, err)
					break
				}
			}
		}
		if perr != nil {
			if f.Strict {
				return fmt.Errorf("read %s: line %d: %w", path, line, perr)
			}
			bad.Add(line, perr.Error())
			continue
		}
		switch {
		case haveTimes:
			rec.SetTimesFromUptime()
		case mask&flow.FUnixSecs != 0:
			rec.Start = int64(rec.UnixSecs)*1000 + int64(rec.UnixNsecs/1000000)
			rec.End = rec.Start
		}
		batch = append(batch, rec)
		if len(batch) == cap(batch) {
			if err := emit(batch); err != nil {
				return err
			}
			batch = make(flow.Batch, 0, 4096)
		}
	}
	bad.Flush()
	if len(batch) > 0 {
		return emit(batch)
	}
	return nil
}

func splitComma(dst []string, s string) []string {
	for {
		i := strings.IndexByte(s, ',')
		if i < 0 {
			return append(dst, s)
		}
		dst = append(dst, s[:i])
		s = s[i+1:]
	}
}

// parseHeader maps the "#:" labels to columns, undoing flow-export's
// label quirks: a second "nexthop" is peer_nexthop, and with both
// extra_pkts and marked_tos present the values come marked_tos first.
func parseHeader(line string) ([]column, uint64, error) {
	if !strings.HasPrefix(line, "#:") {
		return nil, 0, fmt.Errorf("no \"#:\" header line")
	}
	body := strings.TrimPrefix(line, "#:")
	if body == "" {
		return nil, 0, nil
	}
	labels := strings.Split(body, ",")
	both := strings.Contains(","+body+",", ",extra_pkts,") && strings.Contains(","+body+",", ",marked_tos,")
	var cols []column
	var mask uint64
	seenNexthop := false
	for _, l := range labels {
		name := strings.ToLower(strings.TrimSpace(l))
		switch {
		case name == "nexthop" && seenNexthop:
			name = "peer_nexthop"
		case name == "nexthop":
			seenNexthop = true
		case both && name == "extra_pkts":
			name = "marked_tos"
		case both && name == "marked_tos":
			name = "extra_pkts"
		}
		c, ok := byName(name)
		if !ok {
			return nil, 0, fmt.Errorf("unknown column %q", l)
		}
		if mask&c.bit != 0 {
			return nil, 0, fmt.Errorf("column %q named twice", l)
		}
		mask |= c.bit
		cols = append(cols, c)
	}
	return cols, mask, nil
}

func byName(name string) (column, bool) {
	for _, c := range columns {
		if c.name == name {
			return c, true
		}
	}
	return column{}, false
}
