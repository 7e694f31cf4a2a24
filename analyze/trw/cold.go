package trw

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"slices"
	"sort"
	"unsafe"

	"github.com/flowsift/flowsift/analyze/internal/prefetch"
	"github.com/flowsift/flowsift/analyze/internal/u64map"
)

// The cold store is where state goes when MaxBytes is reached, so that the
// test's outcome stays that of a run without the bound. Pairs and sources
// silent longest are written to temporary files (runs), each sorted by
// key in blocks of coldBlock bytes with the first key of each block held
// in memory, and one Bloom filter per table says which keys may be on
// disk. A pair or source that is not in memory is looked for there before
// it is taken as new: almost never on disk (a day of background radiation
// brings millions of new sources and pairs, a handful of which come back),
// so the lookup costs a filter probe, and a block read for the few the
// filter lets through (0.96 % of keys not on disk when it holds as many as
// it was sized for, 0.14 % just after a rebuild, measured on 2 M keys).
//
// Aging stays exact without rewriting the runs: an entry keeps the stamp
// (last flow, in its table's unit) it was evicted with, and each run the
// largest cut of the sweeps since it was written. An entry older than its
// run's cut was forgotten by one of those sweeps, as it would have been in
// memory. A key evicted twice has its newer copy in a newer run, whose
// stamp is at least the older's and whose cut at most the older's: the
// newest copy decides. A run all of whose entries are older than its cut
// is dropped; when runs pile up (more than coldMaxRuns) they are merged
// into one without their dead and superseded entries, and when the filter
// has taken as many keys as it was sized for it is built again from the
// live entries, for half as many again.
//
// On a day of background radiation (16 M flows, 5.3 M sources, 16 M pairs)
// under the default budget, TRW evicted 24 times and wrote 1.1 GB; its
// report is byte-identical to a run without a budget, where forgetting
// instead lost one scanner episode.

type ckey [2]uint64

func cmpKey(a, b ckey) int {
	if c := cmp.Compare(a[0], b[0]); c != 0 {
		return c
	}
	return cmp.Compare(a[1], b[1])
}

func hashKey(k ckey) uint64 { return u64map.Hash(k[0] ^ u64map.Hash(k[1]^0x9e3779b97f4a7c15)) }

const (
	// coldBlock is the size a run's blocks are cut at: one read a lookup.
	coldBlock = 4096
	// coldMaxRuns is how many runs a table keeps before it merges them:
	// only the keys the filter lets through (about one in a hundred of
	// the new ones) are looked for in every run.
	coldMaxRuns = 16
	// bloomBits is the filter's bits a key (of the keys it was sized
	// for), bloomProbes the bits a key sets, all in one 512-bit block
	// (one cache line): about one key in a hundred not on disk is
	// looked for there.
	bloomBits   = 10
	bloomProbes = 7
	// Record layout: the key (16 bytes), the stamp (varint), the length
	// of the state (uvarint), the state.
	keyBytes = 16
)

// bloom is a blocked Bloom filter over key hashes.
type bloom struct {
	words  []uint64
	blocks uint64
	cap    int // keys it was sized for
	added  int
}

func newBloom(keys int) bloom {
	keys = max(keys, 1<<14)
	n := uint64(keys*bloomBits+511) / 512
	return bloom{words: make([]uint64, n*8), blocks: n, cap: keys}
}

func (b *bloom) bits(h uint64) (base uint64, probe uint64) {
	return ((h >> 32) * b.blocks >> 32) * 8, h * 0x9e3779b97f4a7c15
}

func (b *bloom) add(h uint64) {
	base, p := b.bits(h)
	for i := range bloomProbes {
		bit := p >> (9 * i) & 511
		b.words[base+bit>>6] |= 1 << (bit & 63)
	}
	b.added++
}

// prefetch asks for the block of h: a filter of a day of background
// radiation is tens of megabytes, and each key a cache miss.
func (b *bloom) prefetch(h uint64) {
	if b.blocks != 0 {
		base, _ := b.bits(h)
		prefetch.Line(unsafe.Pointer(&b.words[base]))
	}
}

func (b *bloom) has(h uint64) bool {
	if b.blocks == 0 {
		return false
	}
	base, p := b.bits(h)
	for i := range bloomProbes {
		bit := p >> (9 * i) & 511
		if b.words[base+bit>>6]&(1<<(bit&63)) == 0 {
			return false
		}
	}
	return true
}

func (b *bloom) bytes() int64 { return int64(len(b.words)) * 8 }

type blockRef struct {
	first ckey
	off   int64
	n     int32
}

// coldRun is one file of evicted entries, sorted by key.
type coldRun struct {
	f      *os.File
	size   int64
	blocks []blockRef
	keys   int
	newest int64 // the largest stamp in the run
	cut    int64 // the largest cut since the run was written
}

// close closes the run's file and removes it where it could not be
// removed while open (Windows; elsewhere it was unlinked at once).
func (r *coldRun) close() {
	r.f.Close()
	if err := os.Remove(r.f.Name()); err != nil && !errors.Is(err, os.ErrNotExist) {
		slog.Debug("trw: remove a temporary file", "err", err)
	}
}

// coldTable is the cold store of one kind of entry.
type coldTable struct {
	dir, name string
	runs      []*coldRun // oldest first
	bloom     bloom
	buf       []byte
	written   int64 // bytes written, merges included
	merges    int
	// found, aged and dropped count the lookups that found a live
	// entry, those whose newest copy had aged out, and the runs dropped
	// whole (for the tests).
	found, aged, dropped int
	rebuilds             int
}

// runWriter writes a run's records in key order, and adds their keys to
// the table's filter (unless it already holds them: noFilter).
type runWriter struct {
	t        *coldTable
	run      *coldRun
	w        *bufio.Writer
	block    []byte
	err      error
	noFilter bool
	filter   filling
}

// filling adds keys to a filter a batch at a time, their blocks asked for
// first: one at a time, each add waited for its cache miss (10 of the 124
// CPU s of a day of background radiation).
type filling struct {
	b      *bloom
	hashes [32]uint64
	n      int
}

func (f *filling) add(k ckey) {
	f.hashes[f.n] = hashKey(k)
	if f.n++; f.n == len(f.hashes) {
		f.flush()
	}
}

func (f *filling) flush() {
	for _, h := range f.hashes[:f.n] {
		f.b.prefetch(h)
	}
	for _, h := range f.hashes[:f.n] {
		f.b.add(h)
	}
	f.n = 0
}

// create starts a run of about n keys.
func (t *coldTable) create(n int) (*runWriter, error) {
	if t.bloom.blocks == 0 {
		// Room for a few evictions like this one before the first
		// merge sizes the filter on what is on disk.
		t.bloom = newBloom(4 * n)
	}
	f, err := os.CreateTemp(t.dir, "flowsift-trw-*.cold")
	if err != nil {
		return nil, fmt.Errorf("trw: evict %s: %w", t.name, err)
	}
	// Unlinked at once where the system allows it, as the talkers' spill
	// files are: the data lives as long as the descriptor.
	_ = os.Remove(f.Name())
	return &runWriter{t: t, run: &coldRun{f: f, newest: math.MinInt64, cut: math.MinInt64},
		w: bufio.NewWriterSize(f, 64<<10), block: make([]byte, 0, coldBlock+512), filter: filling{b: &t.bloom}}, nil
}

// add appends a record; keys must come in increasing order.
func (w *runWriter) add(k ckey, stamp int64, val []byte) {
	if w.err != nil {
		return
	}
	need := keyBytes + 2*binary.MaxVarintLen64 + len(val)
	if len(w.block) > 0 && len(w.block)+need > coldBlock {
		w.flush()
	}
	r := w.run
	if len(w.block) == 0 {
		r.blocks = append(r.blocks, blockRef{first: k, off: r.size})
	}
	w.block = binary.LittleEndian.AppendUint64(w.block, k[0])
	w.block = binary.LittleEndian.AppendUint64(w.block, k[1])
	w.block = binary.AppendVarint(w.block, stamp)
	w.block = binary.AppendUvarint(w.block, uint64(len(val)))
	w.block = append(w.block, val...)
	r.keys++
	r.newest = max(r.newest, stamp)
	if !w.noFilter {
		w.filter.add(k)
	}
}

func (w *runWriter) flush() {
	if len(w.block) == 0 || w.err != nil {
		return
	}
	r := w.run
	r.blocks[len(r.blocks)-1].n = int32(len(w.block))
	_, w.err = w.w.Write(w.block)
	r.size += int64(len(w.block))
	w.block = w.block[:0]
}

// finish writes what is buffered and adds the run to the table (an empty
// run is dropped).
func (w *runWriter) finish() error {
	w.filter.flush()
	w.flush()
	if w.err == nil {
		w.err = w.w.Flush()
	}
	if w.err != nil || w.run.keys == 0 {
		w.run.close()
		if w.err != nil {
			return fmt.Errorf("trw: evict %s: %w", w.t.name, w.err)
		}
		return nil
	}
	w.t.written += w.run.size
	w.t.runs = append(w.t.runs, w.run)
	return nil
}

// record parses the record at the start of b: its key, stamp, state and
// length.
func record(b []byte) (k ckey, stamp int64, val []byte, n int, err error) {
	if len(b) < keyBytes {
		return k, 0, nil, 0, errors.New("short record")
	}
	k = ckey{binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:])}
	p := keyBytes
	stamp, m := binary.Varint(b[p:])
	if m <= 0 {
		return k, 0, nil, 0, errors.New("bad stamp")
	}
	p += m
	l, m := binary.Uvarint(b[p:])
	if m <= 0 || l > uint64(len(b)-p-m) {
		return k, 0, nil, 0, errors.New("bad length")
	}
	p += m
	return k, stamp, b[p : p+int(l)], p + int(l), nil
}

// find returns the state of k if the newest copy on disk is still alive
// (cut is the table's unit); the state is valid until the next call.
func (t *coldTable) find(k ckey) (val []byte, ok bool, err error) {
	if len(t.runs) == 0 || !t.bloom.has(hashKey(k)) {
		return nil, false, nil
	}
	for i := len(t.runs) - 1; i >= 0; i-- {
		r := t.runs[i]
		j := sort.Search(len(r.blocks), func(j int) bool { return cmpKey(r.blocks[j].first, k) > 0 }) - 1
		if j < 0 {
			continue
		}
		b := r.blocks[j]
		if cap(t.buf) < int(b.n) {
			t.buf = make([]byte, b.n)
		}
		buf := t.buf[:b.n]
		if _, err := r.f.ReadAt(buf, b.off); err != nil {
			return nil, false, fmt.Errorf("trw: read evicted %s at offset %d: %w", t.name, b.off, err)
		}
		for p := 0; p < len(buf); {
			rk, stamp, val, n, err := record(buf[p:])
			if err != nil {
				return nil, false, fmt.Errorf("trw: read evicted %s at offset %d: %w", t.name, b.off+int64(p), err)
			}
			switch c := cmpKey(rk, k); {
			case c == 0:
				// The newest copy decides: an older one is older still.
				if stamp < r.cut {
					t.aged++
					return nil, false, nil
				}
				t.found++
				return val, true, nil
			case c > 0:
				p = len(buf)
				continue
			}
			p += n
		}
	}
	return nil, false, nil
}

// cutAt applies a sweep's cut to every run, and drops the runs it leaves
// without a live entry.
func (t *coldTable) cutAt(c int64) {
	keep := t.runs[:0]
	for _, r := range t.runs {
		r.cut = max(r.cut, c)
		if r.newest < r.cut {
			r.close()
			t.dropped++
			continue
		}
		keep = append(keep, r)
	}
	clear(t.runs[len(keep):])
	t.runs = keep
}

// settle merges the runs when there are too many of them, and builds the
// filter again when it is full.
func (t *coldTable) settle() error {
	if len(t.runs) > coldMaxRuns {
		if err := t.merge(); err != nil {
			return err
		}
	}
	if t.bloom.added > t.bloom.cap {
		return t.rebuild()
	}
	return nil
}

// rebuild builds the filter again from the live entries on disk, for half
// as many again: a day of background radiation adds tens of millions of
// keys, and each rebuild reads them all (a merge in its place rewrote
// them too, and took a tenth of the run's CPU time).
func (t *coldTable) rebuild() error {
	live := 0
	for _, r := range t.runs {
		live += r.keys
	}
	t.bloom = newBloom(live + live/2)
	f := filling{b: &t.bloom}
	for _, r := range t.runs {
		c := newCursor(r)
		for {
			if err := c.next(); err != nil {
				return fmt.Errorf("trw: read evicted %s: %w", t.name, err)
			}
			if !c.ok {
				break
			}
			if c.st >= r.cut {
				f.add(c.k)
			}
		}
	}
	f.flush()
	t.rebuilds++
	return nil
}

// cursor reads a run's records in order, a block at a time, each parsed
// as find parses it.
type cursor struct {
	r     *coldRun
	src   *bufio.Reader
	block int    // the next block to read
	buf   []byte // the block being read, from p on
	p     int
	k     ckey
	st    int64
	val   []byte // valid until the next call
	ok    bool
}

func newCursor(r *coldRun) *cursor {
	return &cursor{r: r, src: bufio.NewReaderSize(io.NewSectionReader(r.f, 0, r.size), 64<<10)}
}

func (c *cursor) next() error {
	c.ok = false
	for c.p >= len(c.buf) {
		if c.block == len(c.r.blocks) {
			return nil
		}
		n := int(c.r.blocks[c.block].n)
		c.buf = slices.Grow(c.buf[:0], n)[:n]
		if _, err := io.ReadFull(c.src, c.buf); err != nil {
			return err
		}
		c.block++
		c.p = 0
	}
	k, st, val, n, err := record(c.buf[c.p:])
	if err != nil {
		return err
	}
	c.k, c.st, c.val, c.ok = k, st, val, true
	c.p += n
	return nil
}

// merge rewrites every run into one, keeping the newest live copy of each
// key. The filter still holds every key, and those of entries dropped
// until it is built again.
func (t *coldTable) merge() error {
	old := t.runs
	keys := 0
	cs := make([]*cursor, len(old))
	for i, r := range old {
		keys += r.keys
		cs[i] = newCursor(r)
		if err := cs[i].next(); err != nil {
			return fmt.Errorf("trw: merge evicted %s: %w", t.name, err)
		}
	}
	w, err := t.create(keys)
	if err != nil {
		return err
	}
	t.runs = nil
	w.noFilter = true
	for {
		// The smallest key; among equal keys the newest run's copy.
		best := -1
		for i, c := range cs {
			if c.ok && (best < 0 || cmpKey(c.k, cs[best].k) <= 0) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		k := cs[best].k
		if c := cs[best]; c.st >= c.r.cut {
			w.add(k, c.st, c.val)
		}
		for _, c := range cs {
			for c.ok && c.k == k {
				if err := c.next(); err != nil {
					w.run.close()
					return fmt.Errorf("trw: merge evicted %s: %w", t.name, err)
				}
			}
		}
	}
	for _, r := range old {
		r.close()
	}
	t.merges++
	return w.finish()
}

// memBytes is what the table holds in memory: its filter and block index.
func (t *coldTable) memBytes() int64 {
	n := t.bloom.bytes()
	for _, r := range t.runs {
		n += int64(cap(r.blocks)) * 40
	}
	return n
}

func (t *coldTable) close() {
	for _, r := range t.runs {
		r.close()
	}
	t.runs = nil
	t.bloom = bloom{}
}
