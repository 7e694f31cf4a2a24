package talkers

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"

	"github.com/flowsift/flowsift/analyze/internal/addrkey"
	"github.com/flowsift/flowsift/flow"
)

// Spilling keeps the pair table inside Config.MaxBytes and the tables
// exact, the way database engines aggregate more groups than fit in
// memory: when the table outgrows its share, every pair it holds is
// appended to one of spillParts files chosen by a hash of the pair, and
// the table starts empty. A pair's flows may then be spread over several
// spills, but always in the same file. At Finish each file in turn is
// summed into the (emptied) table, which then holds every pair of that
// file with its whole counts, and those pairs are offered to the pair
// tables and summed into the source and destination tables. The selection
// breaks every tie by key, so the order in which pairs are offered does
// not change a row: the tables equal those of a run without a budget.
//
// A file holds about 1/spillParts of the distinct pairs, so the table
// stays within its share while the distinct pairs are fewer than
// spillParts times what the share holds (for 256 MiB, some 680 M pairs);
// beyond that the budget is exceeded by the largest file's pairs.
const spillParts = SpillPartitions

// SpillPartitions is the number of hash partitions (one temporary file
// each) a spilling Counter writes its pairs to and finishes one by one.
const SpillPartitions = 64

// Record layouts in a spill file: a tag byte, the key, then flows,
// packets and bytes (little-endian uint64s).
const (
	tagV4   = 4
	tagAddr = 8 // +1: the source is IPv4, +2: the destination is
	lenV4   = 1 + 8 + 24
	lenAddr = 1 + 32 + 24
)

type spiller struct {
	files  [spillParts]*os.File
	bufs   [spillParts]*bufio.Writer
	spills int
	bytes  int64
}

func newSpiller(dir string) (*spiller, error) {
	s := &spiller{}
	for i := range s.files {
		f, err := os.CreateTemp(dir, "flowsift-talkers-*.spill")
		if err != nil {
			s.close()
			return nil, fmt.Errorf("talkers: spill the pair table: %w", err)
		}
		// Unlinked at once where the system allows it (not Windows,
		// where close removes it): the data lives as long as the
		// descriptor, so no exit path, not even a kill, leaves a file
		// behind.
		_ = os.Remove(f.Name())
		s.files[i] = f
		s.bufs[i] = bufio.NewWriterSize(f, 32<<10)
	}
	return s, nil
}

func (s *spiller) close() error {
	var errs []error
	for _, f := range s.files {
		if f == nil {
			continue
		}
		errs = append(errs, f.Close())
		if err := os.Remove(f.Name()); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// spillPart picks a pair's file from its hash. The table places keys by
// the top and the low bits of the same hash; a file taken from either
// would leave every reloaded key in one corner of the table, so the file
// comes from the top bits of the hash multiplied once more.
func spillPart(h uint64) int { return int((h * 0x9E3779B97F4A7C15) >> 58) }

func hashPair(k pairKey) uint64 {
	a, b := addrkey.Of(k.src), addrkey.Of(k.dst)
	return mix(a[0] ^ mix(a[1]^mix(b[0]^mix(b[1]))))
}

// memBytes is what the pair table holds in memory: its pages, directory
// and side table, and for the other pairs (IPv6, mixed) an estimate of a
// Go map entry with its key and counters.
func (c *Counter) memBytes() int64 {
	return c.pair.v4.bytes() + int64(len(c.pair.keys))*160
}

// maybeSpill spills the pair table when it is over its share.
func (c *Counter) maybeSpill() {
	if c.maxBytes > 0 && c.err == nil && c.memBytes() > c.maxBytes {
		c.err = c.spillPairs()
	}
}

// spillPairs appends every pair of the table to its file and empties the
// table. A table over its share starts again in half of it, its pages
// even (table64.resetEven): kept, the pages were the whole share, so the
// table stayed over it and every batch after the first spill spilled
// again (on the week's archive, 50M flows, 1,601 spills of a few thousand
// pairs, each scanning and clearing the whole table: a fifth of the
// report's CPU time); kept with room to grow after each spill, the pages
// crept to twice the share, the keys spread thin over pages split
// unevenly; dropped, the table rebuilt every key once a doubling on its
// way back.
func (c *Counter) spillPairs() error {
	if c.spill == nil {
		s, err := newSpiller(c.tempDir)
		if err != nil {
			return err
		}
		c.spill = s
	}
	s := c.spill
	var err error
	write := func(h uint64, rec []byte) {
		if err == nil {
			_, err = s.bufs[spillPart(h)].Write(rec)
			s.bytes += int64(len(rec))
		}
	}
	var rec [lenAddr]byte
	counts := func(b []byte, n *Counts) {
		binary.LittleEndian.PutUint64(b, n.Flows)
		binary.LittleEndian.PutUint64(b[8:], n.Packets)
		binary.LittleEndian.PutUint64(b[16:], n.Bytes)
	}
	c.pair.v4.each(func(k uint64, n Counts) {
		rec[0] = tagV4
		binary.LittleEndian.PutUint64(rec[1:], k)
		counts(rec[9:], &n)
		write(mix(k), rec[:lenV4])
	})
	for i, p := range c.pair.keys {
		rec[0] = tagAddr
		if p.src.Is4() {
			rec[0]++
		}
		if p.dst.Is4() {
			rec[0] += 2
		}
		a, b := p.src.As16(), p.dst.As16()
		copy(rec[1:], a[:])
		copy(rec[17:], b[:])
		counts(rec[33:], &c.pair.counts[i])
		write(hashPair(p), rec[:lenAddr])
	}
	if err != nil {
		return fmt.Errorf("talkers: spill the pair table: %w", err)
	}
	if c.memBytes() > c.maxBytes {
		n := 1
		for int64(4*n*pageBytes) <= c.maxBytes {
			n *= 2
		}
		c.pair.v4.resetEven(n)
	} else {
		c.pair.v4.reset()
	}
	c.pair.idx, c.pair.keys, c.pair.counts = make(map[pairKey]uint32), nil, nil
	s.spills++
	return nil
}

// Spills is how many times the pair table went to disk (0 when it stayed
// within Config.MaxBytes), and SpillBytes how much it wrote.
func (c *Counter) Spills() int {
	if c.spill == nil {
		return 0
	}
	return c.spill.spills
}

func (c *Counter) SpillBytes() int64 {
	if c.spill == nil {
		return 0
	}
	return c.spill.bytes
}

// eachSpilled sums each file in turn into the emptied pair table and
// calls f once the table holds that file's pairs with their whole counts;
// the table is empty again when it returns. Everything still in the
// table is spilled first.
func (c *Counter) eachSpilled(f func()) error {
	if err := c.spillPairs(); err != nil {
		return err
	}
	s := c.spill
	for i, w := range s.bufs {
		if err := w.Flush(); err != nil {
			return fmt.Errorf("talkers: spill the pair table: %w", err)
		}
		size, err := s.files[i].Seek(0, io.SeekCurrent)
		if err != nil {
			return fmt.Errorf("talkers: read back the pair table: %w", err)
		}
		if err := c.readSpill(bufio.NewReaderSize(io.NewSectionReader(s.files[i], 0, size), 64<<10)); err != nil {
			return fmt.Errorf("talkers: read back the pair table (%s, byte %d): %w", s.files[i].Name(), size, err)
		}
		f()
		c.pair.v4.reset()
		c.pair.idx, c.pair.keys, c.pair.counts = make(map[pairKey]uint32), nil, nil
	}
	return nil
}

func (c *Counter) readSpill(r *bufio.Reader) error {
	var rec [lenAddr]byte
	counts := func(b []byte) Counts {
		return Counts{Flows: binary.LittleEndian.Uint64(b), Packets: binary.LittleEndian.Uint64(b[8:]),
			Bytes: binary.LittleEndian.Uint64(b[16:])}
	}
	for {
		tag, err := r.ReadByte()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch {
		case tag == tagV4:
			if _, err := io.ReadFull(r, rec[:lenV4-1]); err != nil {
				return err
			}
			k := binary.LittleEndian.Uint64(rec[:])
			n := counts(rec[8:])
			c.pair.v4.add(k, mix(k), n)
		case tag&^3 == tagAddr:
			if _, err := io.ReadFull(r, rec[:lenAddr-1]); err != nil {
				return err
			}
			// A key is IPv4 or IPv6 as it was counted: ::ffff:10.0.0.1
			// and 10.0.0.1 are different keys.
			src, dst := netip.AddrFrom16([16]byte(rec[:16])), netip.AddrFrom16([16]byte(rec[16:32]))
			if tag&1 != 0 {
				src = src.Unmap()
			}
			if tag&2 != 0 {
				dst = dst.Unmap()
			}
			n := counts(rec[32:])
			c.pair.get(pairKey{src, dst}).sum(&n)
		default:
			return fmt.Errorf("record tag %d", tag)
		}
	}
}

// finishSpill builds the pair tables and the source and destination
// tables from the spill files, once after the last flow.
func (c *Counter) finishSpill() error {
	var sels [3]selector
	for _, o := range Orders {
		sels[o] = selector{n: c.n, k: Pair, o: o}
	}
	src, dst := newAddrTable[netip.Addr](), newAddrTable[netip.Addr]()
	sums := endSums{src: &src.v4, dst: &dst.v4}
	err := c.eachSpilled(func() {
		c.pair.v4.each(func(k uint64, n Counts) {
			s, d := k>>32, k&0xffff_ffff
			sums.add(s, d, n)
			row := Row{Addr: flow.AddrFromU32(uint32(s)), Dst: flow.AddrFromU32(uint32(d))}
			for i := range sels {
				sels[i].offer(row, n)
			}
		})
		sums.flush()
		for i, p := range c.pair.keys {
			n := c.pair.counts[i]
			addAddr(src, p.src, n)
			addAddr(dst, p.dst, n)
			for j := range sels {
				sels[j].offer(Row{Addr: p.src, Dst: p.dst}, n)
			}
		}
	})
	if err != nil {
		return err
	}
	c.src, c.dst = src, dst
	c.pairTop = &pairTop{distinct: sels[0].seen}
	for i := range sels {
		c.pairTop.rows[i] = sels[i].result()
	}
	return nil
}
