package episode

import (
	"slices"
	"sync"
)

// keyCounts counts flows per 32-bit key (an IPv4 target, a protocol and
// port) for one run. Nearly every flow of a busy archive brings a key its
// run has not seen (a server's replies go to ever new client ports), so a
// hash map spent its time inserting and growing; here a flow appends its key
// to a log, and the log is sorted and merged into a sorted table once it is
// a logDiv-th as long as the table (and at least minLog): amortised, a few
// cheap sequential passes a key, and 5 bytes a distinct key (with a
// one-byte count) instead of a map's 20 to 40. On the week's archive, where
// every source's run lasts the week and holds some 3,000 ports and
// targets, logs four times their tables held 97 MB of storage at the end
// against the tables' 50, and logs as long as their tables 45 MB. Half as
// long took the report's peak from 700-711 MB of RSS to 686-690 MB, a
// quarter to 677 MB for a tenth more CPU time; half took the same CPU time
// as four times and once, within the machine's noise, on the week and on
// the 3-day 1M-flow tree.
//
// A count is kept in a low part of countBits bits beside its key and a high
// part in a map that only keys counted more than that many times reach:
// most keys of a run are hit a few times (a client port, a target probed
// once), and on the week's archive, where every source's run lasts the
// whole week, 8-byte counts took a third of the accountant's memory. The
// map and the truncated flag sit behind one pointer (nil for most runs),
// which keeps a run in its size class.
//
// At most limit distinct keys are kept: the first ones in arrival order, as
// a set that stops taking new members would; flows to later keys are not
// counted and the set says truncated.
type keyCounts struct {
	log    []uint32
	keys   []uint32 // sorted, distinct
	counts []lowCount
	more   *countsMore
}

// countsMore is the part of a keyCounts that few runs need.
type countsMore struct {
	over      map[uint32]uint64 // a key's count >> countBits, when not zero
	truncated bool
}

func (c *keyCounts) extra() *countsMore {
	if c.more == nil {
		c.more = &countsMore{}
	}
	return c.more
}

// truncated says whether a key was dropped for want of room.
func (c *keyCounts) truncated() bool { return c.more != nil && c.more.truncated }

// lowCount holds a count's low countBits bits.
type lowCount = uint8

const countBits = 8

// count is the flows of the i-th key.
func (c *keyCounts) count(i int) uint64 {
	n := uint64(c.counts[i])
	if c.more != nil {
		n += c.more.over[c.keys[i]] << countBits
	}
	return n
}

// addAt adds m flows to the count of key k at i.
func (c *keyCounts) addAt(i int, k uint32, m uint64) {
	n := uint64(c.counts[i]) + m
	c.counts[i] = lowCount(n)
	if hi := n >> countBits; hi != 0 {
		x := c.extra()
		if x.over == nil {
			x.over = make(map[uint32]uint64)
		}
		x.over[k] += hi
	}
}

const (
	minLog = 128
	logDiv = 2
)

func (c *keyCounts) add(k uint32, limit int) {
	if c.log == nil {
		// Room for a background source's run of three probes at once:
		// growing from one took two allocations of most runs' logs.
		c.log = make([]uint32, 0, 4)
	}
	c.log = append(c.log, k)
	if len(c.log) >= max(minLog, len(c.keys)/logDiv) {
		c.compact(limit)
	}
}

func (c *keyCounts) compact(limit int) {
	if len(c.log) == 0 {
		return
	}
	if len(c.keys)+len(c.log) > limit {
		c.compactCapped(limit)
		return
	}
	sortKeys(c.log)
	c.merge(c.log, nil)
	c.log = c.log[:0]
}

// merge adds sorted keys to the table: with add, distinct keys and their
// counts; with add nil, keys that may repeat, each occurrence counting one.
// It works in place, from the back, into the table grown by the number of
// new keys: a run's merges allocate only when the table outgrows its
// capacity, not a fresh copy each time (they made a fifth of the report's
// garbage).
func (c *keyCounts) merge(keys []uint32, add []uint64) {
	fresh, i := 0, 0
	for j, k := range keys {
		if j > 0 && keys[j-1] == k {
			continue
		}
		for i < len(c.keys) && c.keys[i] < k {
			i++
		}
		if i == len(c.keys) || c.keys[i] != k {
			fresh++
		}
	}
	n := len(c.keys)
	c.keys = slices.Grow(c.keys, fresh)[:n+fresh]
	c.counts = slices.Grow(c.counts, fresh)[:n+fresh]
	// w - i is the number of new keys still to place, so w never passes
	// an unread table entry. The high parts stay in over, by key.
	w, i, j := n+fresh-1, n-1, len(keys)-1
	for j >= 0 {
		k := keys[j]
		var m uint64
		if add != nil {
			m = add[j]
			j--
		} else {
			for j >= 0 && keys[j] == k {
				m++
				j--
			}
		}
		for i >= 0 && c.keys[i] > k {
			c.keys[w], c.counts[w] = c.keys[i], c.counts[i]
			i--
			w--
		}
		var low lowCount
		if i >= 0 && c.keys[i] == k {
			low = c.counts[i]
			i--
		}
		c.keys[w], c.counts[w] = k, low
		c.addAt(w, k, m)
		w--
	}
}

// compactCapped merges the log in arrival order, taking new keys only while
// there is room: the rare path of a run near the cap.
func (c *keyCounts) compactCapped(limit int) {
	fresh := map[uint32]uint64{}
	for _, k := range c.log {
		if i, ok := slices.BinarySearch(c.keys, k); ok {
			c.addAt(i, k, 1)
		} else if _, ok := fresh[k]; ok || len(c.keys)+len(fresh) < limit {
			fresh[k]++
		} else {
			c.extra().truncated = true
		}
	}
	c.log = c.log[:0]
	keys := make([]uint32, 0, len(fresh))
	for k := range fresh {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	add := make([]uint64, len(keys))
	for i, k := range keys {
		add[i] = fresh[k]
	}
	c.merge(keys, add)
}

// each calls f for every key counted, in key order; call compact first.
func (c *keyCounts) each(f func(k uint32, n uint64)) {
	for i, k := range c.keys {
		f(k, c.count(i))
	}
}

// radixMin is the log length from which sortKeys sorts by radix.
const radixMin = 512

var scratchPool = sync.Pool{New: func() any { return new([]uint32) }}

// sortKeys sorts a run's log. Logs grow to four times their table, long
// enough for a radix sort (four passes of eight bits, a pass skipped when
// every key shares its byte) to pay: with it the accountant took 89-95
// ns a flow on the generated 1M flows instead of 105-126.
func sortKeys(a []uint32) {
	if len(a) < radixMin {
		slices.Sort(a)
		return
	}
	sp := scratchPool.Get().(*[]uint32)
	buf := slices.Grow((*sp)[:0], len(a))[:len(a)]
	src, dst := a, buf
	for shift := uint(0); shift < 32; shift += 8 {
		var count [256]int
		for _, k := range src {
			count[byte(k>>shift)]++
		}
		if count[byte(src[0]>>shift)] == len(src) {
			continue
		}
		pos := 0
		for i, n := range count {
			count[i] = pos
			pos += n
		}
		for _, k := range src {
			b := byte(k >> shift)
			dst[count[b]] = k
			count[b]++
		}
		src, dst = dst, src
	}
	if &src[0] != &a[0] {
		copy(a, src)
	}
	*sp = buf
	scratchPool.Put(sp)
}
