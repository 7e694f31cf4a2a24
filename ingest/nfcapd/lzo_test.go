package nfcapd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/pierrec/lz4/v4"
)

// literalLZO encodes data as an LZO1X stream of literal runs only: a
// valid stream any LZO1X decoder must give back unchanged.
func literalLZO(data []byte) []byte {
	var out []byte
	if len(data) == 0 {
		return []byte{0x11, 0, 0}
	}
	n := len(data)
	switch {
	case n <= 238:
		out = append(out, byte(17+n))
	default:
		out = append(out, 0)
		t := n - 3 - 15
		for t > 255 {
			out = append(out, 0)
			t -= 255
		}
		out = append(out, byte(t))
	}
	out = append(out, data...)
	return append(out, 0x11, 0, 0)
}

func TestLZOLiterals(t *testing.T) {
	for _, n := range []int{0, 1, 3, 4, 200, 238, 239, 300, 5000} {
		data := bytes.Repeat([]byte("flowsift"), n/8+1)[:n]
		got, err := lzo1xDecompress(literalLZO(data), nil, 1<<20)
		if n == 0 {
			// Nothing but the end marker after an empty literal: the
			// stream 11 00 00 is the empty input.
			if err != nil || len(got) != 0 {
				t.Fatalf("empty: %q %v", got, err)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%d: %v", n, err)
		}
	}
}

// Matches: a run (overlapping copy) and a back reference, hand-assembled.
func TestLZOMatches(t *testing.T) {
	// "abcd" as a first literal run, then an M2 match of 8 bytes at
	// distance 4 ((8-1)<<5 | (4-1)&7<<2, (4-1)>>3), then the end.
	src := []byte{17 + 4, 'a', 'b', 'c', 'd', 7<<5 | 3<<2, 0, 0x11, 0, 0}
	got, err := lzo1xDecompress(src, nil, 100)
	if err != nil || string(got) != "abcdabcdabcd" {
		t.Fatalf("%q %v", got, err)
	}
	// The same with an output limit below the result.
	if _, err := lzo1xDecompress(src, nil, 10); !errors.Is(err, errLZOCorrupt) {
		t.Fatalf("limit: %v", err)
	}
	// A match reaching before the start of the output.
	if _, err := lzo1xDecompress([]byte{17 + 1, 'a', 7<<5 | 3<<2, 0, 0x11, 0, 0}, nil, 100); !errors.Is(err, errLZOCorrupt) {
		t.Fatalf("distance: %v", err)
	}
	// Bytes after the end marker.
	if _, err := lzo1xDecompress(append(bytes.Clone(src), 1), nil, 100); !errors.Is(err, errLZOCorrupt) {
		t.Fatalf("trailing: %v", err)
	}
}

// The real nfdump LZO blocks decompress to what the LZ4 rewrite of the
// same file holds.
func TestLZOAgainstNfdump(t *testing.T) {
	lzo := fixtureBytes(t, "compressed", "v5.lzo")
	lz := fixtureBytes(t, "compressed", "v5.lz4")
	a, b := blocks(t, lzo), blocks(t, lz)
	if len(a) != len(b) || len(a) == 0 {
		t.Fatalf("blocks %d %d", len(a), len(b))
	}
	for i := range a {
		sa := int(binary.LittleEndian.Uint32(lzo[a[i]+4:]))
		sb := int(binary.LittleEndian.Uint32(lz[b[i]+4:]))
		got, err := lzo1xDecompress(lzo[a[i]+blockHdrLen:a[i]+blockHdrLen+sa], nil, maxBlockSize)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]byte, maxBlockSize)
		n, err := lz4.UncompressBlock(lz[b[i]+blockHdrLen:b[i]+blockHdrLen+sb], want)
		if err != nil || !bytes.Equal(got, want[:n]) {
			t.Fatalf("block %d: %d bytes, lz4 %d (%v)", i, len(got), n, err)
		}
	}
}

// FuzzLZO: any input decodes or fails cleanly, never beyond the limit;
// literal streams round-trip.
func FuzzLZO(f *testing.F) {
	f.Add([]byte{17 + 4, 'a', 'b', 'c', 'd', 7<<5 | 3<<2, 0, 0x11, 0, 0}, false)
	f.Add([]byte("some literal bytes"), true)
	f.Add([]byte{0, 0, 0, 0, 0x20, 0, 0, 0x11, 0, 0}, false)
	f.Fuzz(func(t *testing.T, in []byte, literal bool) {
		if literal {
			got, err := lzo1xDecompress(literalLZO(in), nil, 1<<20)
			if err != nil || !bytes.Equal(got, in) {
				t.Fatalf("round trip: %v", err)
			}
			return
		}
		out, err := lzo1xDecompress(in, nil, 4096)
		if len(out) > 4096 {
			t.Fatalf("output %d beyond the limit", len(out))
		}
		if err != nil && !errors.Is(err, errLZOCorrupt) {
			t.Fatalf("error kind: %v", err)
		}
	})
}

// FuzzDecode: any file decodes or fails with an error, never a panic.
func FuzzDecode(f *testing.F) {
	for _, n := range []string{"compressed/v5.none", "compressed/v5.lzo", "compressed/v5.lz4", "compressed/v5.bz2", "v1/nfcapd.202605282025", "v1/v5.lz4"} {
		b := fixtureBytes(f, strings.Split(n, "/")...)
		f.Add(b[:min(len(b), 3000)])
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		_, _, _ = decodeBytes(t, in, false)
	})
}
