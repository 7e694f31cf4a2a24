package episode

import "slices"

// keyCounts counts flows per 32-bit key (an IPv4 target, a protocol and
// port) for one run. Nearly every flow of a busy archive brings a key its
// run has not seen (a server's replies go to ever new client ports), so a
// hash map spent its time inserting and growing; here a flow appends its key
// to a log, and the log is sorted and merged into a sorted table once it is
// as long as the table: amortised, a few cheap sequential passes a key, and
// 12 bytes a distinct key instead of a map's 20 to 40.
//
// At most limit distinct keys are kept: the first ones in arrival order, as
// a set that stops taking new members would; flows to later keys are not
// counted and the set says truncated.
type keyCounts struct {
	log       []uint32
	keys      []uint32 // sorted, distinct
	counts    []uint64
	truncated bool
}

const minLog = 64

func (c *keyCounts) add(k uint32, limit int) {
	c.log = append(c.log, k)
	if len(c.log) >= max(minLog, len(c.keys)) {
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
	slices.Sort(c.log)
	// The log, run-length encoded in place: its keys are sorted, distinct.
	var add []uint64
	n := 0
	for j := 0; j < len(c.log); {
		k, m := c.log[j], uint64(0)
		for j < len(c.log) && c.log[j] == k {
			m++
			j++
		}
		c.log[n] = k
		add = append(add, m)
		n++
	}
	c.merge(c.log[:n], add)
	c.log = c.log[:0]
}

// merge adds sorted distinct keys with their counts to the table.
func (c *keyCounts) merge(keys []uint32, add []uint64) {
	outK := make([]uint32, 0, len(c.keys)+len(keys))
	outN := make([]uint64, 0, cap(outK))
	i, j := 0, 0
	for i < len(c.keys) || j < len(keys) {
		switch {
		case j == len(keys) || (i < len(c.keys) && c.keys[i] < keys[j]):
			outK, outN = append(outK, c.keys[i]), append(outN, c.counts[i])
			i++
		case i == len(c.keys) || keys[j] < c.keys[i]:
			outK, outN = append(outK, keys[j]), append(outN, add[j])
			j++
		default:
			outK, outN = append(outK, keys[j]), append(outN, add[j]+c.counts[i])
			i++
			j++
		}
	}
	c.keys, c.counts = outK, outN
}

// compactCapped merges the log in arrival order, taking new keys only while
// there is room: the rare path of a run near the cap.
func (c *keyCounts) compactCapped(limit int) {
	fresh := map[uint32]uint64{}
	for _, k := range c.log {
		if i, ok := slices.BinarySearch(c.keys, k); ok {
			c.counts[i]++
		} else if _, ok := fresh[k]; ok || len(c.keys)+len(fresh) < limit {
			fresh[k]++
		} else {
			c.truncated = true
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
		f(k, c.counts[i])
	}
}
