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
	c.pairs.bloom.prefetch(hashKey(ckey{0, k}))
	c.srcs4.bloom.prefetch(hashKey(ckey{0, uint64(flow.AddrU32(src))}))
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
		ps = append(ps, pairOut{k, st.min, seenBits(st)}) // within the buffer: one entry a key at most
		return true
	})
	ptmp := scratch.New[pairOut](len(ps))
	defer ptmp.Free()
	ps = radixSort(ps, ptmp.Slice(), func(p *pairOut) uint64 { return p.k })
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
			outs[0] = append(outs[0], srcOut{ckey{0, uint64(flow.AddrU32(a))}, s.last, uint32(n), uint32(len(enc) - n)})
		} else {
			outs[1] = append(outs[1], srcOut{ckey(addrkey.Of(a)), s.last, uint32(n), uint32(len(enc) - n)})
		}
		return true
	})
	for i, t := range []*coldTable{&d.cold.srcs4, &d.cold.srcs6} {
		list := outs[i]
		if i == 0 {
			tmp := scratch.New[srcOut](len(list))
			defer tmp.Free()
			list = radixSort(list, tmp.Slice(), func(o *srcOut) uint64 { return o.k[1] })
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

// radixSort sorts a by key, least significant 16 bits first, and returns
// the sorted slice (a or buf, which must be as long): an eviction sorts millions
// of entries, which a comparison sort took 5 of the 120 CPU s of a day of
// background radiation to do.
func radixSort[T any](a, buf []T, key func(*T) uint64) []T {
	if len(a) < 256 {
		slices.SortFunc(a, func(x, y T) int { return cmp.Compare(key(&x), key(&y)) })
		return a
	}
	var or, and uint64 = 0, ^uint64(0)
	for i := range a {
		k := key(&a[i])
		or |= k
		and &= k
	}
	src, dst := a, buf[:len(a)]
	count := make([]int, 1<<16)
	for shift := uint(0); shift < 64; shift += 16 {
		if (or^and)>>shift&0xffff == 0 {
			continue // every key shares these bits
		}
		clear(count)
		for i := range src {
			count[key(&src[i])>>shift&0xffff]++
		}
		pos := 0
		for i, n := range count {
			count[i] = pos
			pos += n
		}
		for i := range src {
			b := key(&src[i]) >> shift & 0xffff
			dst[count[b]] = src[i]
			count[b]++
		}
		src, dst = dst, src
	}
	return src
}

// loadPair gives a pair just added to the table its state on disk, if it
// was evicted and not aged out since.
func (d *Detector) loadPair(st *dirs, k uint64) {
	val, ok, err := d.cold.pairs.find(ckey{0, k})
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
		t, k = &d.cold.srcs4, ckey{0, uint64(flow.AddrU32(a))}
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
	if s.targets != nil {
		flags |= 2
	}
	b = append(b, flags)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s.walk.LR))
	b = binary.AppendUvarint(b, uint64(s.walk.Attempts))
	b = binary.AppendUvarint(b, uint64(s.contacts))
	b = binary.AppendVarint(b, s.started)
	b = binary.AppendVarint(b, s.last)
	b = binary.AppendUvarint(b, uint64(len(s.targets)))
	for _, a := range s.targets {
		if a.Is4() {
			x := a.As4()
			b = append(b, 4)
			b = append(b, x[:]...)
		} else {
			x := a.As16()
			b = append(b, 16)
			b = append(b, x[:]...)
		}
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
	if b == nil || n > 64 {
		return nil, errBadSource
	}
	if hasTargets {
		s.targets = make([]netip.Addr, 0, max(n, 4))
	}
	for range n {
		if len(b) < 1 || (b[0] != 4 && b[0] != 16) || len(b) < 1+int(b[0]) {
			return nil, errBadSource
		}
		a, _ := netip.AddrFromSlice(b[1 : 1+b[0]])
		s.targets = append(s.targets, a)
		b = b[1+b[0]:]
	}
	if len(b) != 0 || (n > 0 && !hasTargets) {
		return nil, errBadSource
	}
	return s, nil
}
