package nfcapd

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/flowsift/flowsift/flow"
)

// Reader decodes the flows of one nfdump file, one data block at a time.
type Reader struct {
	path  string
	hdr   *Header
	br    *blockReader
	st    *decodeState
	skips []flow.Skip
	// blocks counts the data blocks read (decoded or passed over).
	blocks uint32
	done   bool
	flows  int64

	// pos is the file offset after the last block handed to the
	// decoding (the reading itself may be blocks ahead).
	pos int64

	// With prefetch, one goroutine reads blocks in file order and
	// decompressors expand them in parallel while the caller decodes
	// the records of an earlier one; blocks come back in file order.
	ready   chan *block // read blocks, in file order
	work    chan *block // read blocks to decompress
	free    chan *block
	stop    chan struct{}
	stopped bool
	wg      sync.WaitGroup
	cur     *block
	one     block
}

// Prefetch figures: decompressors per file, and blocks in flight (read,
// being decompressed, decompressed and waiting, being decoded). Memory is
// that many blocks, each its stored and its expanded bytes (nfcapd's
// blocks expand to 1-5 MiB), whatever the file's size.
const (
	prefetchWorkers = 2
	prefetchBlocks  = prefetchWorkers + 2
)

// NewReader reads the header of r. With prefetch, blocks are read and
// decompressed on other goroutines ahead of the decoding (Close stops
// them).
func NewReader(r io.Reader, path string, prefetch bool) (*Reader, error) {
	br := bufio.NewReaderSize(r, 64*1024)
	h, err := ReadHeader(br)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	rd := &Reader{path: path, hdr: h, st: newDecodeState(), pos: h.DataOffset}
	rd.br = newBlockReader(br, h.DataOffset, h.Compression)
	if prefetch {
		rd.ready = make(chan *block, prefetchBlocks)
		rd.work = make(chan *block, prefetchBlocks)
		rd.free = make(chan *block, prefetchBlocks)
		rd.stop = make(chan struct{})
		for range prefetchBlocks {
			rd.free <- &block{done: make(chan error, 1)}
		}
		rd.wg.Add(1 + prefetchWorkers)
		go rd.produce()
		for range prefetchWorkers {
			go rd.decompress()
		}
	}
	return rd, nil
}

// Header is the file header; after the last flow was read, a layout 2
// file's Ident and Stat are filled in from its appendix.
func (rd *Reader) Header() *Header { return rd.hdr }

// Exporters are the exporter records seen so far, by sysid.
func (rd *Reader) Exporters() []Exporter {
	out := make([]Exporter, 0, len(rd.st.exporters))
	for _, e := range rd.st.exporters {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Exporter) int { return int(a.SysID) - int(b.SysID) })
	return out
}

// Samplers are the sampler records seen so far.
func (rd *Reader) Samplers() []Sampler { return rd.st.samplers }

// Skips lists what was passed over and the notes on the file (sampling),
// complete once Read has returned io.EOF.
func (rd *Reader) Skips() []flow.Skip { return rd.skips }

func (rd *Reader) skip(reason string, off int64, detail string, count int64) {
	rd.skips = append(rd.skips, flow.Skip{Path: rd.path, Offset: off, Reason: reason, Detail: detail, Count: max(count, 1)})
}

// produce reads blocks in file order: each goes to the decoding's queue
// first, so that it is waited for in order, then to a decompressor. It
// stops at the end of the file, at a block it cannot frame, or at Close.
func (rd *Reader) produce() {
	defer rd.wg.Done()
	defer close(rd.work)
	defer close(rd.ready)
	for {
		var b *block
		select {
		case b = <-rd.free:
		case <-rd.stop:
			return
		}
		err := rd.br.readRaw(b)
		select {
		case rd.ready <- b:
		case <-rd.stop:
			return
		}
		if err != nil {
			b.done <- err
			return
		}
		select {
		case rd.work <- b:
		case <-rd.stop:
			return
		}
	}
}

func (rd *Reader) decompress() {
	defer rd.wg.Done()
	dc := decompressor{comp: rd.hdr.Compression}
	defer dc.close()
	for b := range rd.work {
		b.done <- dc.run(b)
	}
}

// nextBlock gives the next block, read here or by the prefetcher.
func (rd *Reader) nextBlock() (*block, error) {
	if rd.ready == nil {
		err := rd.br.next(&rd.one)
		rd.advance(&rd.one, err)
		return &rd.one, err
	}
	if rd.cur != nil {
		rd.free <- rd.cur
		rd.cur = nil
	}
	b, ok := <-rd.ready
	if !ok {
		return nil, io.EOF
	}
	err := <-b.done
	rd.cur = b
	rd.advance(b, err)
	return b, err
}

// advance moves pos past a block that was framed.
func (rd *Reader) advance(b *block, err error) {
	var be *blockError
	if err == nil || errors.As(err, &be) && !be.Fatal {
		rd.pos = b.Offset + blockHdrLen + int64(b.Size)
	}
}

// Read appends the flows of the next data block to dst[:0] and returns
// it. It returns io.EOF after the last block; damaged blocks are
// reported in Skips and passed over where the next block can still be
// found. Other errors are the underlying reader's.
func (rd *Reader) Read(dst []flow.Record) ([]flow.Record, error) {
	dst = dst[:0]
	for !rd.done {
		b, err := rd.nextBlock()
		if err == io.EOF {
			rd.finish()
			break
		}
		if err == nil && rd.atAppendix(b) {
			rd.appendix(b)
			rd.finish()
			break
		}
		var be *blockError
		if errors.As(err, &be) {
			rd.skip(be.Reason, be.Offset, be.Detail+rd.flowsNote(), 1)
			rd.blocks++
			if be.Fatal {
				rd.done = true
				break
			}
			continue
		}
		if err != nil {
			rd.done = true
			return dst, fmt.Errorf("read %s: block at offset %d: %w", rd.path, rd.pos, err)
		}
		rd.blocks++
		switch b.Type {
		case blockTypeV3:
			var re *recordError
			dst, re = rd.st.decodeBlockV3(b.Data, b.NumRecords, dst)
			if re != nil {
				rd.skip("corrupt", b.Offset, fmt.Sprintf("block decompresses, but byte %d of its %d: %s; the block's remaining records are dropped", re.at, len(b.Data), re.detail), 1)
			}
		case blockTypeV1:
			var re *recordError
			dst, re = rd.st.decodeBlockV1(b.Data, b.NumRecords, dst)
			if re != nil {
				rd.skip("corrupt", b.Offset, fmt.Sprintf("block decompresses, but byte %d of its %d: %s; the block's remaining records are dropped", re.at, len(b.Data), re.detail), 1)
			}
		default:
			rd.skip("unknown-block", b.Offset, fmt.Sprintf("data block of type %d (%d records) passed over", b.Type, b.NumRecords), 1)
		}
		rd.flows += int64(len(dst))
		if len(dst) > 0 {
			return dst, nil
		}
	}
	return dst, io.EOF
}

func (rd *Reader) flowsNote() string {
	return fmt.Sprintf(" (%d flows read before it)", rd.flows)
}

// atAppendix reports whether b is the first block of a layout 2
// appendix, which nfcapd writes after the data blocks when it closes a
// file. The block's own offset decides, not how far the file was read: a
// prefetching reader is blocks ahead.
func (rd *Reader) atAppendix(b *block) bool {
	h := rd.hdr
	return h.Layout == layoutV2 && h.OffAppendix > 0 && h.AppendixBlocks > 0 && b.Offset >= h.OffAppendix
}

// appendix reads the layout 2 appendix, from its first block b on: the
// file's ident and statistics (nfdump -I prints them).
func (rd *Reader) appendix(b *block) {
	le := binary.LittleEndian
	for i := 0; i < int(rd.hdr.AppendixBlocks); i++ {
		var err error
		if i > 0 {
			b, err = rd.nextBlock()
		}
		if err != nil {
			var be *blockError
			if errors.As(err, &be) {
				rd.skip(be.Reason, be.Offset, "appendix: "+be.Detail, 1)
			} else if err == io.EOF {
				rd.skip("truncated", rd.pos, fmt.Sprintf("file ends before its appendix (%d blocks announced at offset %d)", rd.hdr.AppendixBlocks, rd.hdr.OffAppendix), 1)
			} else {
				rd.skip("unreadable", rd.pos, "appendix: "+err.Error(), 1)
			}
			return
		}
		p := 0
		for j := uint32(0); j < b.NumRecords && len(b.Data)-p >= 4; j++ {
			typ, size := le.Uint16(b.Data[p:]), int(le.Uint16(b.Data[p+2:]))
			if size < 4 || size > len(b.Data)-p {
				rd.skip("corrupt", b.Offset, fmt.Sprintf("appendix record %d has size %d", j+1, size), 1)
				return
			}
			body := b.Data[p+4 : p+size]
			switch typ {
			case 0x8001: // ident
				rd.hdr.Ident = cString(body)
			case 0x8002: // statistics
				if len(body) >= statV2Len {
					rd.hdr.Stat = parseStatV2(body)
				}
			}
			p += size
		}
	}
}

// finish checks the file's end against its header and adds the notes on
// what was read but is not a flow.
func (rd *Reader) finish() {
	rd.done = true
	off := rd.pos
	if rd.hdr.NumBlocks > 0 && rd.blocks != rd.hdr.NumBlocks {
		rd.skip("count-mismatch", off, fmt.Sprintf("header says %d data blocks, %d found", rd.hdr.NumBlocks, rd.blocks), 1)
	}
	if rd.hdr.Stat != nil && rd.hdr.Stat.Flows != 0 && len(rd.skips) == 0 && uint64(rd.flows) != rd.hdr.Stat.Flows && rd.sumFlowsKnown() {
		rd.skip("count-mismatch", off, fmt.Sprintf("statistics record says %d flows, %d found", rd.hdr.Stat.Flows, rd.flows), 1)
	}
	if rd.st.noFlow > 0 {
		rd.skip("not-a-flow", -1, fmt.Sprintf("%d V3 records without a flow element (events, no counters) passed over", rd.st.noFlow), rd.st.noFlow)
	}
	types := make([]uint16, 0, len(rd.st.unknown))
	for t := range rd.st.unknown {
		types = append(types, t)
	}
	slices.Sort(types)
	for _, t := range types {
		rd.skip("unknown-record", -1, fmt.Sprintf("%d records of type %d passed over", rd.st.unknown[t], t), rd.st.unknown[t])
	}
	rd.samplingNote()
}

// sumFlowsKnown: the statistics count aggregated records by their flow
// counts, so the comparison is made only for files without them.
func (rd *Reader) sumFlowsKnown() bool { return !rd.st.aggregated }

// samplingNote reports sampled flows: their counters are what the
// exporter (or nfcapd, which may scale them by the sampling rate) wrote;
// flowsift never scales them.
func (rd *Reader) samplingNote() {
	ids := make([]uint16, 0, len(rd.st.sampled))
	for id := range rd.st.sampled {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		var who string
		if e, ok := rd.st.exporters[id]; ok {
			who = fmt.Sprintf("exporter %s (sysid %d)", e.Addr, id)
		} else {
			who = fmt.Sprintf("exporter sysid %d", id)
		}
		var rates []string
		for _, s := range rd.st.samplers {
			if s.ExporterSysID == id {
				rates = append(rates, fmt.Sprintf("sampler %d: %d of every %d packets", s.ID, s.PacketInterval, s.PacketInterval+s.SpaceInterval))
			}
		}
		rate := "no sampler record"
		if len(rates) > 0 {
			rate = strings.Join(rates, "; ")
		}
		rd.skip("sampled", -1, fmt.Sprintf("%d flows of %s are sampled (%s); their counts are read as stored (nfcapd multiplies them by the sampling rate it knows), flowsift does not scale them", rd.st.sampled[id], who, rate), rd.st.sampled[id])
	}
}

// Close stops the prefetching goroutines and waits for them: nothing
// reads the input after Close returns.
func (rd *Reader) Close() error {
	if rd.stop != nil && !rd.stopped {
		close(rd.stop)
		rd.stopped = true
		rd.wg.Wait()
	}
	rd.br.close()
	return nil
}

// Format is the nfdump binary file driver for package ingest.
type Format struct {
	// Prefetch decompresses blocks on a second goroutine while the
	// records of the previous one are decoded: a file then uses two
	// cores (set when the run has more than one job).
	Prefetch bool
}

// Name implements ingest.Format.
func (Format) Name() string { return "nfcapd" }

// Sniff implements ingest.Format: the A50C magic and a layout this package
// knows.
func (Format) Sniff(head []byte, _ string) bool { return sniff(head) }

// Decode implements ingest.Format.
func (f Format) Decode(path string, r io.Reader, emit func(flow.Batch) error, skip func(flow.Skip)) error {
	rd, err := NewReader(r, path, f.Prefetch)
	if err != nil {
		return err
	}
	defer rd.Close()
	var buf []flow.Record
	for {
		buf, err = rd.Read(buf)
		if len(buf) > 0 {
			if err := emit(buf); err != nil {
				return err
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			for _, s := range rd.Skips() {
				skip(s)
			}
			return err
		}
	}
	for _, s := range rd.Skips() {
		skip(s)
	}
	return nil
}

// CaptureStartFile is the start of the first flow of a file, from the
// statistics in its appendix, for files whose names carry no time. The
// header's creation time is not used: nfdump -w stamps a rewritten file
// with the time of the rewrite.
func (Format) CaptureStartFile(path string) (time.Time, bool) {
	f, err := os.Open(path)
	if err != nil {
		return time.Time{}, false
	}
	defer f.Close()
	h, err := ReadInfo(f)
	if err != nil || h.Stat == nil || h.Stat.FirstSeen == 0 {
		return time.Time{}, false
	}
	return time.UnixMilli(int64(h.Stat.FirstSeen)).UTC(), true
}
