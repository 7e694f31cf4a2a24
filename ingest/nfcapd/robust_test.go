package nfcapd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/internal/fixture"
)

func decodeBytes(t *testing.T, b []byte, prefetch bool) ([]flow.Record, []flow.Skip, error) {
	t.Helper()
	var recs []flow.Record
	var skips []flow.Skip
	err := Format{Prefetch: prefetch}.Decode("f", bytes.NewReader(b), func(bt flow.Batch) error {
		recs = append(recs, bt...)
		return nil
	}, func(s flow.Skip) { skips = append(skips, s) })
	return recs, skips, err
}

func fixtureBytes(t testing.TB, elem ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(fixture.Path(t, append([]string{"nfdump"}, elem...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// blocks lists the offsets of a layout 2 file's data blocks.
func blocks(t testing.TB, b []byte) []int {
	var offs []int
	end := int(binary.LittleEndian.Uint64(b[24:]))
	for off := headerV2Len; off < end; off += blockHdrLen + int(binary.LittleEndian.Uint32(b[off+4:])) {
		offs = append(offs, off)
	}
	return offs
}

// toZSTD rewrites an LZ4 file as nfdump 1.7.2 and later write ZSTD files:
// each block (appendix included) decompressed and recompressed as one
// zstd frame, the header's compression byte 4. A synthetic file: nfdump
// 1.7.1 cannot write ZSTD.
func toZSTD(t testing.TB, in []byte) []byte {
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	out := append([]byte(nil), in[:headerV2Len]...)
	out[16] = CompZSTD
	off := headerV2Len
	appendix := int(binary.LittleEndian.Uint64(in[24:]))
	for off < len(in) {
		if off == appendix {
			binary.LittleEndian.PutUint64(out[24:], uint64(len(out)))
		}
		size := int(binary.LittleEndian.Uint32(in[off+4:]))
		raw := make([]byte, 16<<20)
		n, err := lz4.UncompressBlock(in[off+blockHdrLen:off+blockHdrLen+size], raw)
		if err != nil {
			t.Fatal(err)
		}
		z := enc.EncodeAll(raw[:n], nil)
		hdr := append([]byte(nil), in[off:off+blockHdrLen]...)
		binary.LittleEndian.PutUint32(hdr[4:], uint32(len(z)))
		out = append(append(out, hdr...), z...)
		off += blockHdrLen + size
	}
	return out
}

func TestZSTD(t *testing.T) {
	lz := fixtureBytes(t, "compressed", "v5.lz4")
	want, skips, err := decodeBytes(t, lz, false)
	if err != nil || len(skips) != 0 || len(want) != 600 {
		t.Fatalf("lz4: %d %v %v", len(want), skips, err)
	}
	z := toZSTD(t, lz)
	for _, pf := range []bool{false, true} {
		got, skips, err := decodeBytes(t, z, pf)
		if err != nil || len(skips) != 0 || len(got) != len(want) {
			t.Fatalf("zstd: %d %v %v", len(got), skips, err)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("flow %d differs", i)
			}
		}
	}
	h, err := ReadInfo(bytes.NewReader(z))
	if err != nil || h.Stat == nil || h.Stat.Flows != 600 || h.Compression != CompZSTD {
		t.Fatalf("info %+v %v", h, err)
	}
}

// A damaged file gives its good flows and a skip naming the offset;
// it never fails the run or panics.
func TestDamaged(t *testing.T) {
	for _, name := range []string{"v5.none", "v5.lzo", "v5.lz4", "v5.bz2"} {
		t.Run(name, func(t *testing.T) {
			good := fixtureBytes(t, "compressed", name)
			offs := blocks(t, good)
			if len(offs) < 1 {
				t.Fatal("no blocks")
			}
			first := offs[0]
			// Cut inside the first block.
			recs, skips, err := decodeBytes(t, good[:first+blockHdrLen+10], false)
			if err != nil || len(recs) != 0 || len(skips) != 1 || skips[0].Reason != "truncated" || skips[0].Offset != int64(first) {
				t.Fatalf("cut: %d %v %v", len(recs), skips, err)
			}
			// Cut inside a block header.
			_, skips, err = decodeBytes(t, good[:first+5], false)
			if err != nil || len(skips) != 1 || skips[0].Reason != "truncated" || !strings.Contains(skips[0].Detail, "block header") {
				t.Fatalf("cut header: %v %v", skips, err)
			}
			// Garbage in the block's data: a corrupt block is passed
			// over and the file goes on to its appendix.
			bad := bytes.Clone(good)
			for i := first + blockHdrLen + 20; i < first+blockHdrLen+60; i++ {
				bad[i] ^= 0x5a
			}
			for _, pf := range []bool{false, true} {
				_, skips, err = decodeBytes(t, bad, pf)
				if err != nil || len(skips) == 0 || skips[0].Reason != "corrupt" || skips[0].Offset != int64(first) {
					t.Fatalf("garbage (prefetch %v): %v %v", pf, skips, err)
				}
			}
			// An impossible block size loses the framing.
			bad = bytes.Clone(good)
			binary.LittleEndian.PutUint32(bad[first+4:], 0xfffffff0)
			_, skips, err = decodeBytes(t, bad, false)
			if err != nil || len(skips) != 1 || skips[0].Reason != "corrupt" || !strings.Contains(skips[0].Detail, "impossible block header") {
				t.Fatalf("size: %v %v", skips, err)
			}
		})
	}
}

func TestBadHeaders(t *testing.T) {
	good := fixtureBytes(t, "compressed", "v5.lz4")
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"short", good[:20], "shorter than its header"},
		{"magic", append([]byte{0, 0}, good[2:]...), "bad magic"},
		{"big-endian", append([]byte{0xa5, 0x0c}, good[2:]...), "big-endian"},
		{"layout", append(append([]byte{}, good[:2]...), append([]byte{9, 0}, good[4:]...)...), "layout 9"},
		{"compression", func() []byte { b := bytes.Clone(good); b[16] = 9; return b }(), "compression method 9"},
		{"encrypted", func() []byte { b := bytes.Clone(good); b[17] = 1; return b }(), "encrypted"},
	} {
		_, _, err := decodeBytes(t, c.b, false)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "read f") {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

// A record whose size runs past its block drops the rest of that block
// only, with the block's offset.
func TestBadRecord(t *testing.T) {
	good := fixtureBytes(t, "compressed", "v5.none")
	first := blocks(t, good)[0]
	bad := bytes.Clone(good)
	// The exporter record comes first, then V3 records: break the third record.
	p := first + blockHdrLen
	for range 2 {
		p += int(binary.LittleEndian.Uint16(bad[p+2:]))
	}
	binary.LittleEndian.PutUint16(bad[p+2:], 2)
	recs, skips, err := decodeBytes(t, bad, false)
	if err != nil || len(recs) != 1 || len(skips) < 1 || skips[0].Reason != "corrupt" || skips[0].Offset != int64(first) {
		t.Fatalf("%d %v %v", len(recs), skips, err)
	}
}

// nfcapd.current.* files have no appendix and may end inside a block.
func TestCaptureInProgress(t *testing.T) {
	good := fixtureBytes(t, "v5", "nfcapd.202605282025")
	cut := bytes.Clone(good[:len(good)/2])
	binary.LittleEndian.PutUint64(cut[24:], 0) // no appendix yet
	binary.LittleEndian.PutUint16(cut[18:], 0)
	binary.LittleEndian.PutUint32(cut[36:], 0)
	recs, skips, err := decodeBytes(t, cut, true)
	if err != nil || len(recs) != 0 || len(skips) != 1 || skips[0].Reason != "truncated" {
		t.Fatalf("%d %v %v", len(recs), skips, err)
	}
}

func TestInfo(t *testing.T) {
	f, err := os.Open(filepath.Join(fixture.Path(t, "nfdump", "v5"), "nfcapd.202605282025"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := ReadInfo(f)
	if err != nil || h.Ident != "none" || h.Stat == nil || h.Stat.Flows != 600 || h.VersionString() != "1.7.1" {
		t.Fatalf("%+v %v", h, err)
	}
	if ok := (Format{}).Sniff([]byte{0x0c, 0xa5, 2, 0}, ""); !ok {
		t.Fatal("sniff")
	}
	if _, err := io.Copy(io.Discard, f); err != nil {
		t.Fatal(err)
	}
}

// splitBlocks rewrites an uncompressed layout 2 file with at most per
// records a block (the appendix kept as is, after them): the many-block
// files nfcapd writes for busy periods, from a small fixture. Synthetic:
// built here from the layout, not by nfdump.
func splitBlocks(t *testing.T, in []byte, per int) []byte {
	t.Helper()
	le := binary.LittleEndian
	out := append([]byte(nil), in[:headerV2Len]...)
	appendix := int(le.Uint64(in[24:]))
	nblocks := 0
	for _, off := range blocks(t, in) {
		n := int(le.Uint32(in[off:]))
		p := off + blockHdrLen
		for n > 0 {
			k := min(n, per)
			start := p
			for range k {
				p += int(le.Uint16(in[p+2:]))
			}
			var hdr [blockHdrLen]byte
			le.PutUint32(hdr[0:], uint32(k))
			le.PutUint32(hdr[4:], uint32(p-start))
			le.PutUint16(hdr[8:], blockTypeV3)
			out = append(append(out, hdr[:]...), in[start:p]...)
			n -= k
			nblocks++
		}
	}
	le.PutUint64(out[24:], uint64(len(out)))
	le.PutUint32(out[36:], uint32(nblocks))
	return append(out, in[appendix:]...)
}

// Many blocks, read with and without prefetch: every flow, in order, and
// the appendix found after the last data block (the prefetcher reads
// blocks ahead of the decoding; the appendix is told by its offset).
func TestManyBlocks(t *testing.T) {
	good := fixtureBytes(t, "compressed", "v5.none")
	want, _, err := decodeBytes(t, good, false)
	if err != nil || len(want) != 600 {
		t.Fatal(len(want), err)
	}
	for _, per := range []int{1, 7, 100} {
		many := splitBlocks(t, good, per)
		if n := len(blocks(t, many)); n < 600/per {
			t.Fatalf("per %d: %d blocks", per, n)
		}
		for _, pf := range []bool{false, true} {
			got, skips, err := decodeBytes(t, many, pf)
			if err != nil || len(skips) != 0 || len(got) != len(want) {
				t.Fatalf("per %d prefetch %v: %d flows %v %v", per, pf, len(got), skips, err)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("per %d prefetch %v: flow %d differs", per, pf, i)
				}
			}
		}
		h, err := ReadInfo(bytes.NewReader(many))
		if err != nil || h.Stat == nil || h.Stat.Flows != 600 {
			t.Fatalf("info: %+v %v", h, err)
		}
	}
}

// A consumer that stops early (emit returns an error) stops the
// prefetching goroutines; none is left behind.
func TestStopEarly(t *testing.T) {
	many := splitBlocks(t, fixtureBytes(t, "compressed", "v5.none"), 5)
	before := runtime.NumGoroutine()
	stop := errors.New("enough")
	for range 20 {
		calls := 0
		err := Format{Prefetch: true}.Decode("f", bytes.NewReader(many), func(flow.Batch) error {
			calls++
			if calls == 3 {
				return stop
			}
			return nil
		}, func(flow.Skip) {})
		if err != stop || calls != 3 {
			t.Fatalf("err %v after %d batches", err, calls)
		}
	}
	for i := 0; runtime.NumGoroutine() > before; i++ {
		if i > 100 {
			t.Fatalf("%d goroutines, %d before", runtime.NumGoroutine(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// nfdump 1.6 files: a cut block and a record naming an extension map
// that was never defined are skips with the block's offset.
func TestV1Damaged(t *testing.T) {
	good := fixtureBytes(t, "v1", "nfcapd.202605282025")
	first := headerV1Len + statV1Len
	if n, _, err := decodeBytes(t, good, false); err != nil || len(n) != 600 {
		t.Fatalf("%d %v", len(n), err)
	}
	recs, skips, err := decodeBytes(t, good[:first+blockHdrLen+100], true)
	if err != nil || len(recs) != 0 || len(skips) != 1 || skips[0].Reason != "truncated" || skips[0].Offset != int64(first) {
		t.Fatalf("cut: %d %v %v", len(recs), skips, err)
	}
	// The first common record's map id, made one never defined.
	bad := bytes.Clone(good)
	le := binary.LittleEndian
	p := first + blockHdrLen
	for le.Uint16(bad[p:]) != recCommon {
		p += int(le.Uint16(bad[p+2:]))
	}
	le.PutUint16(bad[p+6:], 999)
	recs, skips, err = decodeBytes(t, bad, false)
	if err != nil || len(skips) < 1 || skips[0].Reason != "corrupt" || skips[0].Offset != int64(first) || !strings.Contains(skips[0].Detail, "extension map 999") {
		t.Fatalf("map: %d %v %v", len(recs), skips, err)
	}
}
