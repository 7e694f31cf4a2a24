package ftfile

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/klauspost/compress/zlib"

	"github.com/flowsift/flowsift/flow"
)

// WriterConfig describes the file a Writer makes.
type WriterConfig struct {
	ExportVersion uint16 // 1, 5, 6, 7 or 1005
	BigEndian     bool
	Level         int    // 0 = uncompressed, 1-9 = zlib level (flow-capture uses 6)
	Flags         uint32 // header flags; COMPRESS is added when Level > 0
	// Capture writes flow-capture's TLV set (capture times and counters,
	// hostname); otherwise a stream header like flow-import's.
	Capture                                                     bool
	CapStart, CapEnd, FlowCount, FlowLost, PktCorrupt, SeqReset uint32
	Hostname, Comments                                          string
}

// Writer encodes flows into a flow-tools stream-version-3 file.
type Writer struct {
	cfg WriterConfig
	bo  interface {
		binary.ByteOrder
		binary.AppendByteOrder
	}
	size int
	out  *bufio.Writer
	zw   *zlib.Writer
	data io.Writer
	buf  []byte
}

// NewWriter writes the header at once; records follow with Write.
func NewWriter(w io.Writer, cfg WriterConfig) (*Writer, error) {
	h := &Header{StreamVersion: 3, ExportVersion: cfg.ExportVersion, BigEndian: cfg.BigEndian}
	size := h.RecordSize()
	if size == 0 || cfg.ExportVersion == 8 {
		return nil, fmt.Errorf("write: export version %d not supported by the writer", cfg.ExportVersion)
	}
	if cfg.Level < 0 || cfg.Level > 9 {
		return nil, fmt.Errorf("write: zlib level %d out of range", cfg.Level)
	}
	wr := &Writer{cfg: cfg, size: size, out: bufio.NewWriterSize(w, 64*1024)}
	wr.bo = binary.LittleEndian
	order := byte(1)
	if cfg.BigEndian {
		wr.bo, order = binary.BigEndian, 2
	}
	flags := cfg.Flags
	if cfg.Level > 0 {
		flags |= FlagCompress
	}
	if !cfg.Capture {
		flags |= FlagStreaming
	}
	var tlv []byte
	put := func(t uint16, v []byte) {
		tlv = wr.bo.AppendUint16(tlv, t)
		tlv = wr.bo.AppendUint16(tlv, uint16(len(v)))
		tlv = append(tlv, v...)
	}
	u32 := func(v uint32) []byte { return wr.bo.AppendUint32(nil, v) }
	put(tlvExVer, wr.bo.AppendUint16(nil, cfg.ExportVersion))
	if cfg.Capture {
		put(tlvCapStart, u32(cfg.CapStart))
		put(tlvCapEnd, u32(cfg.CapEnd))
	}
	put(tlvHeaderFlags, u32(flags))
	if cfg.Capture {
		put(tlvFlowCount, u32(cfg.FlowCount))
		put(tlvFlowLost, u32(cfg.FlowLost))
		put(tlvPktCorrupt, u32(cfg.PktCorrupt))
		put(tlvSeqReset, u32(cfg.SeqReset))
	}
	// flow-capture always names its host; streams only when told to.
	if cfg.Capture || cfg.Hostname != "" {
		put(tlvCapHostname, append([]byte(cfg.Hostname), 0))
	}
	if cfg.Comments != "" {
		put(tlvComments, append([]byte(cfg.Comments), 0))
	}
	// flow-tools refuses to write (and expects no more than) 16 KiB.
	if len(tlv)+8 > 16384 {
		return nil, fmt.Errorf("write: header of %d bytes exceeds flow-tools' 16384", len(tlv)+8)
	}
	hl := 8 + len(tlv)
	hl = (hl + 3) &^ 3
	hdr := []byte{0xCF, 0x10, order, 3}
	hdr = wr.bo.AppendUint32(hdr, uint32(hl))
	hdr = append(hdr, tlv...)
	hdr = append(hdr, make([]byte, hl-len(hdr))...)
	if _, err := wr.out.Write(hdr); err != nil {
		return nil, err
	}
	wr.data = wr.out
	if cfg.Level > 0 {
		zw, err := zlib.NewWriterLevel(wr.out, cfg.Level)
		if err != nil {
			return nil, err
		}
		wr.zw, wr.data = zw, zw
	}
	wr.buf = make([]byte, size*writeChunk)
	return wr, nil
}

// writeChunk records are encoded per write to the deflater.
const writeChunk = 1024

// Write encodes a batch from the records' raw fields (UnixSecs,
// UnixNsecs, SysUptime, First, Last and the rest); Start and End are not
// read, so callers set the raw fields (Record.SetUptimeFromTimes).
// Fields wider than the version's (ports, AS numbers, ifIndex above 16
// bits, counters above 32 bits) are truncated as flow-tools would.
func (w *Writer) Write(b flow.Batch) error {
	for len(b) > 0 {
		n := min(len(b), writeChunk)
		for i := range n {
			w.encode(&b[i], w.buf[i*w.size:(i+1)*w.size])
		}
		if _, err := w.data.Write(w.buf[:n*w.size]); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		b = b[n:]
	}
	return nil
}

func (w *Writer) encode(r *flow.Record, b []byte) {
	clear(b)
	bo := w.bo
	bo.PutUint32(b[0:], r.UnixSecs)
	bo.PutUint32(b[4:], r.UnixNsecs)
	bo.PutUint32(b[8:], r.SysUptime)
	bo.PutUint32(b[12:], flow.AddrU32(r.Exporter))
	bo.PutUint32(b[16:], flow.AddrU32(r.Src))
	bo.PutUint32(b[20:], flow.AddrU32(r.Dst))
	bo.PutUint32(b[24:], flow.AddrU32(r.Nexthop))
	bo.PutUint16(b[28:], uint16(r.Input))
	bo.PutUint16(b[30:], uint16(r.Output))
	bo.PutUint32(b[32:], uint32(r.Packets))
	bo.PutUint32(b[36:], uint32(r.Octets))
	bo.PutUint32(b[40:], r.First)
	bo.PutUint32(b[44:], r.Last)
	bo.PutUint16(b[48:], r.SrcPort)
	bo.PutUint16(b[50:], r.DstPort)
	b[52], b[53], b[54] = r.Proto, r.ToS, r.TCPFlags
	v := w.cfg.ExportVersion
	if v != 1 {
		b[56], b[57], b[58], b[59] = r.EngineType, r.EngineID, r.SrcMask, r.DstMask
		bo.PutUint16(b[60:], uint16(r.SrcAS))
		bo.PutUint16(b[62:], uint16(r.DstAS))
	}
	switch v {
	case 6:
		b[64], b[65] = r.InEncaps, r.OutEncaps
		bo.PutUint32(b[68:], flow.AddrU32(r.PeerNexthop))
	case 7:
		b[55] = r.V7Flags
		bo.PutUint32(b[64:], flow.AddrU32(r.RouterSC))
	case 1005:
		bo.PutUint32(b[64:], r.SrcTag)
		bo.PutUint32(b[68:], r.DstTag)
	}
}

// Close finishes the zlib stream and flushes; it does not close the
// underlying writer.
func (w *Writer) Close() error {
	if w.zw != nil {
		if err := w.zw.Close(); err != nil {
			return err
		}
	}
	return w.out.Flush()
}
