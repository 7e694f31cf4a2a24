package trw

import (
	"cmp"
	"encoding/binary"
	"errors"
	"log/slog"
	"math"
	"net/netip"
	"slices"

	"github.com/flowsift/flowsift/analyze/internal/addrkey"
	"github.com/flowsift/flowsift/analyze/internal/scratch"
	"github.com/flowsift/flowsift/analyze/internal/u64map"
	"github.com/flowsift/flowsift/flow"
)

// coldStore holds what MaxBytes evicted (see cold.go): IPv4 pairs, and
// sources by family (an IPv4 address and its IPv4-mapped form are
// different sources, and share a 16-byte form). IPv6 pairs are few and
// stay in memory.
type coldStore struct {
	pairs, srcs4, srcs6 coldTable
}

func newColdStore(dir string) *coldStore {
	return &coldStore{pairs: coldTable{dir: dir, name: "pairs"}, srcs4: coldTable{dir: dir, name: "sources"},
		srcs6: coldTable{dir: dir, name: "IPv6 sources"}}
}

func (c *coldStore) tables() []*coldTable { return []*coldTable{&c.pairs, &c.srcs4, &c.srcs6} }

func (c *coldStore) memBytes() int64 {
	var n int64
	for _, t := range c.tables() {
		n += t.memBytes()
	}
	return n
}

// prefetch asks for the filter blocks of the IPv4 pair k and source src,
// which a flow that brings them new looks up.
func (c *coldStore) prefetch(k uint64, src netip.Addr) {
	c.pairs.bloom.prefetch(hashKey(pairKey(k)))
	c.srcs4.bloom.prefetch(hashKey(source4Key(src)))
}

// cutAt applies a sweep (cut in stream ms): pairs age by the minute.
func (c *coldStore) cutAt(cut int64) {
	c.pairs.cutAt(int64(minuteOf(cut)))
	c.srcs4.cutAt(cut)
	c.srcs6.cutAt(cut)
}

func (c *coldStore) close() {
	for _, t := range c.tables() {
		t.close()
	}
}

// Pair states on disk: bit 0 when direction 0 carried a flow, bit 1 for
// direction 1 (evicted pairs have nothing pending).
func seenBits(st *dirs) byte {
	var b byte
	if st.d[0] != 0 {
		b |= 1
	}
	if st.d[1] != 0 {
		b |= 2
	}
	return b
}

// evict moves the pairs and sources whose last flow is older than cut, and
// that wait for no reply, to the cold store. Its buffers live outside the
// Go heap (see scratch): an eviction moves millions of entries.
func (d *Detector) evict(cut int64) error {
	if d.cold == nil {
		d.cold = newColdStore(d.cfg.TempDir)
	}
	c := minuteOf(cut)
	type pairOut struct {
		k    uint64
		min  uint32
		seen byte
	}
	pbuf := scratch.New[pairOut](d.seen.v4.Len())
	defer pbuf.Free()
	ps := pbuf.Slice()[:0]
	d.seen.v4.DeleteFuncShrink(func(k uint64, st *dirs) bool {
		if st.min >= c || st.pending(0) || st.pending(1) {
			return false
		}
		ps = append(ps, pairOut{pairKey(k)[1], st.min, seenBits(st)}) // within the buffer: one entry a key at most
		return true
	})
	sortByKey(ps, func(p *pairOut) uint64 { return p.k })
	w, err := d.cold.pairs.create(len(ps))
	if err != nil {
		return err
	}
	for _, p := range ps {
		w.add(ckey{0, p.k}, int64(p.min), []byte{p.seen})
	}
	if err := w.finish(); err != nil {
		return err
	}

	// Sources are encoded as they are found, and sorted as keys and
	// places in the encoding, by family.
	type srcOut struct {
		k      ckey
		last   int64
		off, n uint32
	}
	var enc []byte
	var bufs [2]*scratch.Buffer[srcOut]
	var outs [2][]srcOut
	for i := range bufs {
		bufs[i] = scratch.New[srcOut](d.srcs.Len())
		defer bufs[i].Free()
		outs[i] = bufs[i].Slice()[:0]
	}
	d.srcs.DeleteFuncAddr(func(a netip.Addr, s *source) bool {
		if s.last >= cut || s.pending != 0 {
			return false
		}
		n := len(enc)
		enc = appendSource(enc, s)
		if a.Is4() {
			outs[0] = append(outs[0], srcOut{source4Key(a), s.last, uint32(n), uint32(len(enc) - n)})
		} else {
			outs[1] = append(outs[1], srcOut{ckey(addrkey.Of(a)), s.last, uint32(n), uint32(len(enc) - n)})
		}
		return true
	})
	for i, t := range []*coldTable{&d.cold.srcs4, &d.cold.srcs6} {
		list := outs[i]
		if i == 0 {
			sortByKey(list, func(o *srcOut) uint64 { return o.k[1] })
		} else {
			slices.SortFunc(list, func(a, b srcOut) int { return cmpKey(a.k, b.k) })
		}
		w, err := t.create(len(list))
		if err != nil {
			return err
		}
		for _, o := range list {
			w.add(o.k, o.last, enc[o.off:o.off+o.n])
		}
		if err := w.finish(); err != nil {
			return err
		}
	}
	for _, t := range d.cold.tables() {
		if err := t.settle(); err != nil {
			return err
		}
	}
	return nil
}

// pairKey and source4Key are the keys on disk of an IPv4 pair (key4) and
// source: their hash, a bijection, so that the keys of a run spread evenly
// over sortByKey's buckets (the pairs of a site share their lower address's
// first bits).
func pairKey(k uint64) ckey { return ckey{0, u64map.Hash(k)} }

func source4Key(a netip.Addr) ckey { return ckey{0, u64map.Hash(uint64(flow.AddrU32(a)))} }

// sortByKey sorts a by key in place: the entries are dealt into 65,536
// buckets by the key's top 16 bits, then each bucket is sorted on its own.
// A radix sort through a second buffer as large as a was faster, but that
// buffer came on top of a heap near its limit (an eviction holds tens of
// megabytes), and the background day's RSS rose past 1 GiB in one run of
// four; a comparison sort of the whole took 5 of its 120 CPU s.
func sortByKey[T any](a []T, key func(*T) uint64) {
	byKey := func(x, y T) int { return cmp.Compare(key(&x), key(&y)) }
	if len(a) < 1<<12 {
		slices.SortFunc(a, byKey)
		return
	}
	const buckets = 1 << 16
	start := make([]int, buckets+1)
	for i := range a {
		start[key(&a[i])>>48+1]++
	}
	for b := 1; b <= buckets; b++ {
		start[b] += start[b-1]
	}
	next := slices.Clone(start[:buckets])
	for b := range buckets {
		for next[b] < start[b+1] {
			i := next[b]
			t := key(&a[i]) >> 48
			if int(t) == b {
				next[b]++
				continue
			}
			// a[i] belongs further on: swap it to its bucket's next place
			// and look at what came back.
			j := next[t]
			next[t]++
			a[i], a[j] = a[j], a[i]
		}
	}
	for b := range buckets {
		if s := a[start[b]:start[b+1]]; len(s) > 1 {
			slices.SortFunc(s, byKey)
		}
	}
}

// loadPair gives a pair just added to the table its state on disk, if it
// was evicted and not aged out since.
func (d *Detector) loadPair(st *dirs, k uint64) {
	val, ok, err := d.cold.pairs.find(pairKey(k))
	switch {
	case err != nil:
		d.coldFail(err)
	case ok && len(val) != 1:
		d.coldFail(errors.New("trw: read evicted pairs: bad pair state"))
	case ok:
		if val[0]&1 != 0 {
			st.d[0] = seenDone
		}
		if val[0]&2 != 0 {
			st.d[1] = seenDone
		}
	}
}

// loadSource returns the source a held when it was evicted (nil: it was
// not, or it aged out since).
func (d *Detector) loadSource(a netip.Addr) *source {
	t, k := &d.cold.srcs6, ckey(addrkey.Of(a))
	if a.Is4() {
		t, k = &d.cold.srcs4, source4Key(a)
	}
	val, ok, err := t.find(k)
	if err == nil && ok {
		var s *source
		if s, err = decodeSource(val); err == nil {
			return s
		}
	}
	if err != nil {
		d.coldFail(err)
	}
	return nil
}

// coldFail gives the cold store up after an error: what it held is lost,
// as if MaxBytes had made the detector forget it at the shortest horizon
// it evicted at (Shed reports it).
func (d *Detector) coldFail(err error) {
	slog.Warn("trw: state evicted to temporary files is lost; from now on --memory makes the detector forget it", "err", err)
	if d.cold != nil {
		d.cold.close()
	}
	d.cold = nil
	d.coldBroken = true
	d.sheds += d.evictions
	if d.shed == 0 || d.evictH < d.shed {
		d.shed = d.evictH
	}
}

// Evicted is how many times MaxBytes moved state to temporary files, and
// how many bytes they took.
func (d *Detector) Evicted() (times int, bytes int64) {
	if d.cold != nil {
		for _, t := range d.cold.tables() {
			bytes += t.written
		}
	}
	return d.evictions, bytes
}

// A source on disk: flags (1 decided, 2 has its targets slice), the
// walk's ratio and attempts, contacts, the walk's start, then the targets
// (a length of 4 or 16 and the address). Its last flow is the record's
// stamp.
func appendSource(b []byte, s *source) []byte {
	var flags byte
	if s.decided {
		flags |= 1
	}
	if s.targets.held() {
		flags |= 2
	}
	b = append(b, flags)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s.walk.LR))
	b = binary.AppendUvarint(b, uint64(s.walk.Attempts))
	b = binary.AppendUvarint(b, uint64(s.contacts))
	b = binary.AppendVarint(b, s.started)
	b = binary.AppendVarint(b, s.last)
	b = binary.AppendUvarint(b, uint64(s.targets.len()))
	for _, x := range s.targets.v4 {
		b = append(b, 4)
		b = binary.BigEndian.AppendUint32(b, x)
	}
	for _, a := range s.targets.other {
		x := a.As16()
		b = append(b, 16)
		b = append(b, x[:]...)
	}
	return b
}

// zigzag reads a number binary.AppendVarint wrote, from its unsigned form.
func zigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

var errBadSource = errors.New("trw: read evicted sources: bad source state")

func decodeSource(b []byte) (*source, error) {
	if len(b) < 9 {
		return nil, errBadSource
	}
	s := &source{decided: b[0]&1 != 0, walk: Walk{LR: math.Float64frombits(binary.LittleEndian.Uint64(b[1:]))}}
	hasTargets := b[0]&2 != 0
	b = b[9:]
	// A bad number leaves b nil, which the checks below refuse.
	num := func() (v uint64) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			b = nil
			return 0
		}
		b = b[n:]
		return v
	}
	s.walk.Attempts = int(num())
	s.contacts = int(num())
	s.started = zigzag(num())
	s.last = zigzag(num())
	n := num()
	if b == nil || n > maxEvidence {
		return nil, errBadSource
	}
	if hasTargets {
		s.targets.v4 = make([]uint32, 0, 4)
	}
	for range n {
		if len(b) < 1 || (b[0] != 4 && b[0] != 16) || len(b) < 1+int(b[0]) {
			return nil, errBadSource
		}
		a, _ := netip.AddrFromSlice(b[1 : 1+b[0]])
		s.targets.add(a)
		b = b[1+b[0]:]
	}
	if len(b) != 0 || (n > 0 && !hasTargets) {
		return nil, errBadSource
	}
	return s, nil
}
