package nfcapd

import (
	"errors"
	"fmt"
)

// errLZOCorrupt is returned for an LZO1X stream that is malformed, points
// outside the output, or would decompress beyond the caller's limit.
var errLZOCorrupt = errors.New("corrupt LZO1X data")

// lzo1xDecompress decodes one LZO1X stream (what nfdump's -z, lzo1x_1,
// writes per block) into dst[:0], growing dst up to max bytes. Every read
// and every back reference is bounds-checked: damaged input gives an
// error, never a panic or an output beyond max.
//
// The stream is a sequence of instructions; the first byte may open with
// a literal run, after which literal runs and matches alternate, and a
// match's low two bits (of its first distance byte) carry 0 to 3 literals
// that follow it. It ends with a match of distance 16384 and length 3
// (bytes 11 00 00), which must be the last bytes of the input.
func lzo1xDecompress(src, dst []byte, max int) ([]byte, error) {
	out := dst[:0]
	ip := 0
	n := len(src)
	fail := func(what string) ([]byte, error) {
		return out, fmt.Errorf("%w: %s at input byte %d", errLZOCorrupt, what, ip)
	}
	// literal copies n literal bytes.
	literal := func(cnt int) bool {
		if cnt > n-ip || cnt > max-len(out) {
			return false
		}
		out = append(out, src[ip:ip+cnt]...)
		ip += cnt
		return true
	}
	// match copies cnt bytes from dist bytes back; the regions may
	// overlap (a run), so it copies forwards in pieces no longer than dist.
	match := func(dist, cnt int) bool {
		if dist <= 0 || dist > len(out) || cnt > max-len(out) {
			return false
		}
		for cnt > 0 {
			from := len(out) - dist
			k := min(cnt, dist)
			out = append(out, out[from:from+k]...)
			cnt -= k
		}
		return true
	}
	// extend reads the zero bytes and the final byte of a long length.
	extend := func(base int) (int, bool) {
		t := 0
		for ip < n && src[ip] == 0 {
			t += 255
			ip++
			if t > max { // lengths beyond the output limit cannot be valid
				return 0, false
			}
		}
		if ip >= n {
			return 0, false
		}
		t += base + int(src[ip])
		ip++
		return t, true
	}
	if n == 0 {
		return fail("empty input")
	}

	var t int
	afterLiteralRun := false // a 3-byte short match may follow
	opened := false          // the first byte was a literal run already
	if src[0] > 17 {
		t = int(src[0]) - 17
		ip = 1
		if !literal(t) {
			return fail("literal run past the end")
		}
		// Up to 3 literals stand for those a match would carry; more are
		// a literal run.
		afterLiteralRun = t >= 4
		opened = true
	}

	for {
		if !opened {
			// The previous instruction carried no literals: the next byte
			// is a literal run (below 16) or a match.
			if ip >= n {
				return fail("input ends before the end marker")
			}
			if t = int(src[ip]); t < 16 {
				ip++
				if t == 0 {
					var ok bool
					if t, ok = extend(15); !ok {
						return fail("bad literal length")
					}
				}
				if !literal(t + 3) {
					return fail("literal run past the end")
				}
				afterLiteralRun = true
			}
		}
		opened = false
		for {
			if ip >= n {
				return fail("input ends before the end marker")
			}
			t = int(src[ip])
			ip++
			var dist, cnt int
			switch {
			case t >= 64: // length 3 to 8, distance up to 2 KiB
				if ip >= n {
					return fail("cut match")
				}
				dist = 1 + (t>>2)&7 + int(src[ip])<<3
				ip++
				cnt = t>>5 + 1
			case t >= 32: // distance up to 16 KiB
				cnt = t & 31
				if cnt == 0 {
					var ok bool
					if cnt, ok = extend(31); !ok {
						return fail("bad match length")
					}
				}
				cnt += 2
				if ip+2 > n {
					return fail("cut match")
				}
				dist = 1 + (int(src[ip])|int(src[ip+1])<<8)>>2
				ip += 2
			case t >= 16: // distance 16 KiB to 48 KiB, or the end marker
				cnt = t & 7
				if cnt == 0 {
					var ok bool
					if cnt, ok = extend(7); !ok {
						return fail("bad match length")
					}
				}
				cnt += 2
				if ip+2 > n {
					return fail("cut match")
				}
				dist = (t&8)<<11 + (int(src[ip])|int(src[ip+1])<<8)>>2
				ip += 2
				if dist == 0 {
					if ip != n {
						return fail(fmt.Sprintf("%d bytes after the end marker", n-ip))
					}
					return out, nil
				}
				dist += 0x4000
			default: // t < 16: a short match
				if ip >= n {
					return fail("cut match")
				}
				if afterLiteralRun {
					// Right after a literal run: 3 bytes, 2 KiB further back.
					dist = 1 + 0x800 + t>>2 + int(src[ip])<<2
					cnt = 3
				} else {
					dist = 1 + t>>2 + int(src[ip])<<2
					cnt = 2
				}
				ip++
			}
			afterLiteralRun = false
			if !match(dist, cnt) {
				return fail(fmt.Sprintf("match of %d bytes at distance %d outside the output (%d bytes)", cnt, dist, len(out)))
			}
			carried := int(src[ip-2]) & 3
			if carried == 0 {
				break
			}
			if !literal(carried) {
				return fail("literal run past the end")
			}
		}
	}
}
