// Package talkers computes top-N statistics (sources, destinations, pairs,
// ports, protocols ordered by flows, packets and bytes) in the same pass as
// the detectors. Counting follows nfdump's -s element statistics so that the
// numbers equal `nfdump -s srcip/bytes` and friends on the same flows:
//
//   - every flow adds its Flows count (dFlows of an aggregated record) or 1
//     when it has none, like nfdump's "aggregated flows, else 1";
//   - packets and bytes are the record's Packets and Octets;
//   - Port counts a flow once under its source port and once under its
//     destination port (nfdump's "port": two elements of one statistic), so a
//     flow whose two ports are equal counts twice under that port and the
//     column sums of the Port table are twice the totals; SrcPort and DstPort
//     count each flow once;
//   - Pair has no nfdump -s element; it equals `nfdump -A srcip,dstip -s
//     record/ORDER`.
//
// nfdump leaves the order of equal values to its hash table; flowsift breaks
// every tie explicitly so the output is deterministic: by the ordering value
// (descending), then by the two other counters in the fixed order bytes,
// packets, flows (descending, skipping the ordering one), then by key
// ascending (addresses with netip.Addr.Compare: IPv4 before IPv6, then
// numerically; for pairs src then dst; ports and protocols numerically).
// With ties straddling the N-th row nfdump may show a different member of the
// tie; the counts of every key shown are the same.
package talkers

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"

	"github.com/flowsift/flowsift/flow"
)

// DefaultN is the number of rows per table when Config.N is 0 (the report's
// default; nfdump's own default is 10).
const DefaultN = 20

// Key is what a table counts by.
type Key int

const (
	SrcIP   Key = iota // nfdump -s srcip
	DstIP              // nfdump -s dstip
	Pair               // (src, dst): nfdump -A srcip,dstip -s record
	SrcPort            // nfdump -s srcport
	DstPort            // nfdump -s dstport
	Port               // nfdump -s port: source and destination port both count
	Proto              // nfdump -s proto
)

// Keys lists every key in the order Tables returns them.
var Keys = []Key{SrcIP, DstIP, Pair, SrcPort, DstPort, Port, Proto}

// String is the stable name used in CSV/JSON ("srcip", "pair", ...).
func (k Key) String() string {
	switch k {
	case SrcIP:
		return "srcip"
	case DstIP:
		return "dstip"
	case Pair:
		return "pair"
	case SrcPort:
		return "srcport"
	case DstPort:
		return "dstport"
	case Port:
		return "port"
	case Proto:
		return "proto"
	}
	return "key" + strconv.Itoa(int(k))
}

// Title is a human heading ("Sources", ...).
func (k Key) Title() string {
	switch k {
	case SrcIP:
		return "Sources"
	case DstIP:
		return "Destinations"
	case Pair:
		return "Pairs"
	case SrcPort:
		return "Source ports"
	case DstPort:
		return "Destination ports"
	case Port:
		return "Ports (source or destination)"
	case Proto:
		return "Protocols"
	}
	return k.String()
}

// Order is the counter a table is sorted by.
type Order int

const (
	ByFlows Order = iota
	ByPackets
	ByBytes
)

// Orders lists every order in the order Tables returns them.
var Orders = []Order{ByBytes, ByPackets, ByFlows}

// String is nfdump's name for the order ("flows", "packets", "bytes").
func (o Order) String() string {
	switch o {
	case ByFlows:
		return "flows"
	case ByPackets:
		return "packets"
	case ByBytes:
		return "bytes"
	}
	return "order" + strconv.Itoa(int(o))
}

// Counts are the three counters of a key (or of everything).
type Counts struct {
	Flows, Packets, Bytes uint64
}

func (c Counts) get(o Order) uint64 {
	switch o {
	case ByPackets:
		return c.Packets
	case ByBytes:
		return c.Bytes
	}
	return c.Flows
}

// Row is one line of a table. Only the fields of the table's Key are set:
// Addr for SrcIP/DstIP, Addr and Dst for Pair, Port for the port keys, Proto
// for Proto.
type Row struct {
	Addr  netip.Addr
	Dst   netip.Addr
	Port  uint16
	Proto uint8
	Counts
	// First and Last are the earliest Start and the latest End (ms since
	// the epoch) of the flows counted under this key.
	First, Last int64
}

// Label renders the row's key for humans: "10.0.0.1", "10.0.0.1 -> 10.0.0.2",
// "53", "6".
func (r Row) Label(k Key) string {
	switch k {
	case SrcIP, DstIP:
		return r.Addr.String()
	case Pair:
		return r.Addr.String() + " -> " + r.Dst.String()
	case SrcPort, DstPort, Port:
		return strconv.Itoa(int(r.Port))
	case Proto:
		return strconv.Itoa(int(r.Proto))
	}
	return ""
}

// Table is the top N of one key by one order.
type Table struct {
	Key      Key
	Order    Order
	N        int // requested N
	Distinct int // number of distinct keys seen (rows before the cut)
	Rows     []Row
}

// Config sets the table size.
type Config struct {
	N int // rows per table; 0 = DefaultN; negative = unlimited (nfdump -n 0)
}

type acc struct {
	Counts
	first, last int64
}

func (a *acc) add(r *flow.Record, fl uint64) {
	if a.Flows == 0 {
		a.first, a.last = r.Start, r.End
	} else {
		a.first = min(a.first, r.Start)
		a.last = max(a.last, r.End)
	}
	a.Flows += fl
	a.Packets += r.Packets
	a.Bytes += r.Octets
}

type pairKey struct{ src, dst netip.Addr }

// addrTable maps a key to an index in a dense slice: one map lookup per flow
// for keys already seen, and the slice keeps the counters out of the map's
// buckets so growth copies only indexes.
type addrTable[K comparable] struct {
	idx  map[K]uint32
	keys []K
	accs []acc
}

func newAddrTable[K comparable]() *addrTable[K] {
	return &addrTable[K]{idx: make(map[K]uint32)}
}

func (t *addrTable[K]) get(k K) *acc {
	i, ok := t.idx[k]
	if !ok {
		i = uint32(len(t.accs))
		t.idx[k] = i
		t.keys = append(t.keys, k)
		t.accs = append(t.accs, acc{})
	}
	return &t.accs[i]
}

// Counter accumulates every table. Not safe for concurrent use.
type Counter struct {
	n      int
	total  acc
	src    *addrTable[netip.Addr]
	dst    *addrTable[netip.Addr]
	pair   *addrTable[pairKey]
	sport  []acc // 65536 entries
	dport  []acc
	port   []acc
	proto  [256]acc
	flowsN uint64 // records added
}

// New returns an empty Counter.
func New(cfg Config) *Counter {
	n := cfg.N
	if n == 0 {
		n = DefaultN
	}
	return &Counter{
		n:     n,
		src:   newAddrTable[netip.Addr](),
		dst:   newAddrTable[netip.Addr](),
		pair:  newAddrTable[pairKey](),
		sport: make([]acc, 65536),
		dport: make([]acc, 65536),
		port:  make([]acc, 65536),
	}
}

// Add counts a batch. Call it with every flow of the stream (the same
// batches the detectors get).
func (c *Counter) Add(b flow.Batch) {
	for i := range b {
		c.AddRecord(&b[i])
	}
}

// AddRecord counts one flow.
func (c *Counter) AddRecord(r *flow.Record) {
	fl := uint64(r.Flows)
	if fl == 0 {
		fl = 1
	}
	c.flowsN++
	c.total.add(r, fl)
	c.src.get(r.Src).add(r, fl)
	c.dst.get(r.Dst).add(r, fl)
	c.pair.get(pairKey{r.Src, r.Dst}).add(r, fl)
	c.sport[r.SrcPort].add(r, fl)
	c.dport[r.DstPort].add(r, fl)
	c.port[r.SrcPort].add(r, fl)
	c.port[r.DstPort].add(r, fl)
	c.proto[r.Proto].add(r, fl)
}

// Totals are the sums over every flow added (nfdump's summary line).
func (c *Counter) Totals() Counts { return c.total.Counts }

// Records is the number of flow records added.
func (c *Counter) Records() uint64 { return c.flowsN }

// Distinct returns how many distinct keys a table has seen.
func (c *Counter) Distinct(k Key) int {
	switch k {
	case SrcIP:
		return len(c.src.keys)
	case DstIP:
		return len(c.dst.keys)
	case Pair:
		return len(c.pair.keys)
	case SrcPort:
		return countUsed(c.sport)
	case DstPort:
		return countUsed(c.dport)
	case Port:
		return countUsed(c.port)
	case Proto:
		return countUsed(c.proto[:])
	}
	return 0
}

func countUsed(a []acc) int {
	n := 0
	for i := range a {
		if a[i].Flows != 0 {
			n++
		}
	}
	return n
}

// Top returns the top N rows of key k ordered by o, with the tie-breaks of
// the package documentation.
func (c *Counter) Top(k Key, o Order) (Table, error) {
	var rows []Row
	switch k {
	case SrcIP:
		rows = addrRows(c.src, func(a netip.Addr, r *Row) { r.Addr = a })
	case DstIP:
		rows = addrRows(c.dst, func(a netip.Addr, r *Row) { r.Addr = a })
	case Pair:
		rows = addrRows(c.pair, func(p pairKey, r *Row) { r.Addr, r.Dst = p.src, p.dst })
	case SrcPort:
		rows = portRows(c.sport)
	case DstPort:
		rows = portRows(c.dport)
	case Port:
		rows = portRows(c.port)
	case Proto:
		for i := range c.proto {
			if a := c.proto[i]; a.Flows != 0 {
				rows = append(rows, Row{Proto: uint8(i), Counts: a.Counts, First: a.first, Last: a.last})
			}
		}
	default:
		return Table{}, fmt.Errorf("talkers: unknown key %d", int(k))
	}
	if o != ByFlows && o != ByPackets && o != ByBytes {
		return Table{}, fmt.Errorf("talkers: unknown order %d", int(o))
	}
	slices.SortFunc(rows, func(a, b Row) int { return compareRows(k, o, a, b) })
	t := Table{Key: k, Order: o, N: c.n, Distinct: len(rows)}
	if c.n > 0 && len(rows) > c.n {
		rows = rows[:c.n:c.n]
	}
	t.Rows = rows
	return t, nil
}

// Tables returns every key (in Keys order) by every order (in Orders order).
func (c *Counter) Tables() []Table {
	out := make([]Table, 0, len(Keys)*len(Orders))
	for _, k := range Keys {
		for _, o := range Orders {
			t, _ := c.Top(k, o) // keys and orders are the package's own
			out = append(out, t)
		}
	}
	return out
}

func addrRows[K comparable](t *addrTable[K], set func(K, *Row)) []Row {
	rows := make([]Row, len(t.keys))
	for i, k := range t.keys {
		a := t.accs[i]
		rows[i] = Row{Counts: a.Counts, First: a.first, Last: a.last}
		set(k, &rows[i])
	}
	return rows
}

func portRows(a []acc) []Row {
	var rows []Row
	for i := range a {
		if a[i].Flows != 0 {
			rows = append(rows, Row{Port: uint16(i), Counts: a[i].Counts, First: a[i].first, Last: a[i].last})
		}
	}
	return rows
}

// tieOrder is the fixed order of the secondary counters.
var tieOrder = []Order{ByBytes, ByPackets, ByFlows}

func compareRows(k Key, o Order, a, b Row) int {
	if c := cmp.Compare(b.get(o), a.get(o)); c != 0 {
		return c
	}
	for _, t := range tieOrder {
		if t == o {
			continue
		}
		if c := cmp.Compare(b.get(t), a.get(t)); c != 0 {
			return c
		}
	}
	switch k {
	case SrcIP, DstIP:
		return a.Addr.Compare(b.Addr)
	case Pair:
		if c := a.Addr.Compare(b.Addr); c != 0 {
			return c
		}
		return a.Dst.Compare(b.Dst)
	case SrcPort, DstPort, Port:
		return cmp.Compare(a.Port, b.Port)
	case Proto:
		return cmp.Compare(a.Proto, b.Proto)
	}
	return 0
}
