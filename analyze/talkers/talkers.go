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
	"unsafe"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/analyze/internal/prefetch"
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
	// ICMPFlows and ICMPv6Flows are, in the DstPort and Port tables, the
	// flows of those protocols among Counts.Flows whose destination port
	// (where ICMP carries type<<8 | code) is Port: the row counts every
	// protocol under the number, as nfdump does, and these let a reader
	// name the ICMP type.
	ICMPFlows, ICMPv6Flows uint64
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
	// Shard restricts the counting to the flows of its sources: every
	// key of the Pair table (and so of SrcIP) then lives in one shard,
	// and the other tables are sums, so the parts merge exactly.
	Shard analyze.Shard
	// MaxBytes bounds the memory of the pair table, the one table that
	// grows with the traffic (0 = no bound): beyond it the pairs go to
	// temporary files in TempDir ("" = the system's) and the tables are
	// finished from them, with the same numbers (see spill.go).
	MaxBytes int64
	TempDir  string
}

// Validate refuses a negative N: the report asks for a number of rows
// (unlimited tables are for callers that set N < 0 in code).
func (c Config) Validate() error {
	if c.N < 0 {
		return fmt.Errorf("top talkers: %d rows: must be at least 1 (0 = %d)", c.N, DefaultN)
	}
	if c.MaxBytes < 0 {
		return fmt.Errorf("top talkers: memory %d bytes: must not be negative", c.MaxBytes)
	}
	return c.Shard.Validate()
}

// Settings describes the configuration for a report.
func (c Config) Settings() []analyze.Setting {
	n := c.N
	if n == 0 {
		n = DefaultN
	}
	return []analyze.Setting{{Name: "top N", Value: strconv.Itoa(n)}}
}

func (c *Counts) add(r *flow.Record, fl uint64) {
	c.Flows += fl
	c.Packets += r.Packets
	c.Bytes += r.Octets
}

func (c *Counts) sum(o *Counts) {
	c.Flows += o.Flows
	c.Packets += o.Packets
	c.Bytes += o.Bytes
}

type pairKey struct{ src, dst netip.Addr }

// addrTable counts by address or pair: IPv4 keys packed in a table64, the
// others (IPv6, mixed pairs) in a plain map to a dense slice.
type addrTable[K comparable] struct {
	v4     table64
	idx    map[K]uint32
	keys   []K
	counts []Counts
}

func newAddrTable[K comparable]() *addrTable[K] {
	return &addrTable[K]{idx: make(map[K]uint32)}
}

func (t *addrTable[K]) get(k K) *Counts {
	i, ok := t.idx[k]
	if !ok {
		i = uint32(len(t.counts))
		t.keys = append(t.keys, k)
		t.counts = append(t.counts, Counts{})
		t.idx[k] = i
	}
	return &t.counts[i]
}

func (t *addrTable[K]) len() int { return t.v4.n + len(t.keys) }

// Counter accumulates every table. Not safe for concurrent use.
type Counter struct {
	n     int
	shard analyze.Shard
	total Counts
	pair  *addrTable[pairKey]
	// src and dst are summed from pair when a table is asked for (nil
	// until then, and again after more flows): a flow reaches its source
	// and its destination through its pair, so it costs one lookup, not
	// three.
	src, dst *addrTable[netip.Addr]
	// sport and dport have their counters once a flow or part was added
	// (none before: see portArrays).
	sport, dport portTable
	proto        [256]Counts
	// icmp counts ICMP [0] and ICMPv6 [1] flows by destination port
	// (type<<8 | code); nil until the first such flow.
	icmp   *[2][65536]uint64
	flowsN uint64 // records added

	maxBytes int64
	tempDir  string
	spill    *spiller // nil until the pair table first outgrew maxBytes
	pairTop  *pairTop // with spill: the pair tables, made with src and dst
	err      error    // of spilling; sticky
}

// pairTop is the pair tables of a Counter that spilled, by Order.
type pairTop struct {
	distinct int
	rows     [3][]Row
}

// New returns an empty Counter.
func New(cfg Config) *Counter {
	n := cfg.N
	if n == 0 {
		n = DefaultN
	}
	return &Counter{
		n:        n,
		shard:    cfg.Shard,
		maxBytes: cfg.MaxBytes,
		tempDir:  cfg.TempDir,
		pair:     newAddrTable[pairKey](),
	}
}

// portArrays makes the port counters when the first flows come, not in
// New: the report builds its analysers before the pass sets its heap
// aside (pretouch), and 3 MB made then were faulted in 4 KiB at a time,
// some 770 faults of 7-24 µs each on a host where faults are slow. Made
// in the pass, they take a few huge pages of the heap set aside.
func (c *Counter) portArrays() {
	c.sport.alloc()
	c.dport.alloc()
}

// Add counts a batch. Call it with every flow of the stream (the same
// batches the detectors get).
func (c *Counter) Add(b flow.Batch) {
	c.src, c.dst, c.pairTop = nil, nil, nil
	c.portArrays()
	for i := range b {
		if j := i + ahead; j < len(b) {
			c.prefetch(&b[j])
		}
		if c.shard.Owns(b[i].Src) {
			c.add(&b[i])
		}
	}
	c.maybeSpill()
}

// ahead is how many flows before its own a flow's pair slot and port
// counts are asked for: the pair table and the two port arrays (1.5 MB
// each) are larger than the caches, and a flow waited for each miss in
// turn.
const ahead = 16

func (c *Counter) prefetch(r *flow.Record) {
	prefetch.Line(unsafe.Pointer(&c.sport.c[r.SrcPort]))
	prefetch.Line(unsafe.Pointer(&c.dport.c[r.DstPort]))
	if r.Src.Is4() && r.Dst.Is4() {
		c.pair.v4.prefetch(mix(uint64(flow.AddrU32(r.Src))<<32 | uint64(flow.AddrU32(r.Dst))))
	}
}

// AddRecord counts one flow.
func (c *Counter) AddRecord(r *flow.Record) {
	c.src, c.dst, c.pairTop = nil, nil, nil
	c.portArrays()
	if c.shard.Owns(r.Src) {
		c.add(r)
		if c.flowsN%4096 == 0 {
			c.maybeSpill()
		}
	}
}

// Finish builds the tables after the last flow: from the spill files
// when the pair table went to disk. Err and Finish report a failure to
// write or read them.
func (c *Counter) Finish() error {
	c.ends()
	return c.err
}

// Err is the first error of spilling, if any.
func (c *Counter) Err() error { return c.err }

// Close removes the spill files, if any. The Counter's tables are
// already built when Finish was called.
func (c *Counter) Close() error {
	if c.spill == nil {
		return nil
	}
	err := c.spill.close()
	c.spill = nil
	return err
}

// add counts a flow; the caller drops the summed ends.
func (c *Counter) add(r *flow.Record) {
	fl := uint64(r.Flows)
	if fl == 0 {
		fl = 1
	}
	c.flowsN++
	c.total.add(r, fl)
	c.sport.at(r.SrcPort).add(r, fl)
	c.dport.at(r.DstPort).add(r, fl)
	c.proto[r.Proto].add(r, fl)
	if r.Proto == 1 || r.Proto == 58 {
		c.addICMP(r.Proto, r.DstPort, fl)
	}
	if r.Src.Is4() && r.Dst.Is4() {
		k := uint64(flow.AddrU32(r.Src))<<32 | uint64(flow.AddrU32(r.Dst))
		c.pair.v4.add(k, mix(k), Counts{Flows: fl, Packets: r.Packets, Bytes: r.Octets})
	} else {
		c.pair.get(pairKey{r.Src, r.Dst}).add(r, fl)
	}
}

// addICMP is kept out of add for the few flows that are ICMP: inlined
// there, BenchmarkCount took a median 12 ns a flow more than without
// the ICMP counts (14 pairs on a loaded machine); out of line no
// difference showed in 8 pairs.
//
//go:noinline
func (c *Counter) addICMP(proto uint8, port uint16, fl uint64) {
	if c.icmp == nil {
		c.icmp = new([2][65536]uint64)
	}
	c.icmp[min(proto/58, 1)][port] += fl
}

// ends returns the source and destination tables, summed from the pairs.
func (c *Counter) ends() (src, dst *addrTable[netip.Addr]) {
	if c.src != nil {
		return c.src, c.dst
	}
	if c.spill != nil {
		if err := c.finishSpill(); err != nil {
			c.err = err
			c.src, c.dst, c.pairTop = newAddrTable[netip.Addr](), newAddrTable[netip.Addr](), &pairTop{}
		}
		return c.src, c.dst
	}
	src, dst = newAddrTable[netip.Addr](), newAddrTable[netip.Addr]()
	sums := endSums{src: &src.v4, dst: &dst.v4}
	c.pair.v4.each(func(k uint64, n Counts) { sums.add(k>>32, k&0xffff_ffff, n) })
	sums.flush()
	for i, p := range c.pair.keys {
		addAddr(src, p.src, c.pair.counts[i])
		addAddr(dst, p.dst, c.pair.counts[i])
	}
	c.src, c.dst = src, dst
	return src, dst
}

// addAddr adds n to a's counters in t.
func addAddr(t *addrTable[netip.Addr], a netip.Addr, n Counts) {
	if a.Is4() {
		k := uint64(flow.AddrU32(a))
		t.v4.add(k, mix(k), n)
		return
	}
	t.get(a).sum(&n)
}

// Totals are the sums over every flow added (nfdump's summary line).
func (c *Counter) Totals() Counts { return c.total }

// Records is the number of flow records added.
func (c *Counter) Records() uint64 { return c.flowsN }

// Distinct returns how many distinct keys a table has seen.
func (c *Counter) Distinct(k Key) int {
	switch k {
	case SrcIP:
		src, _ := c.ends()
		return src.len()
	case DstIP:
		_, dst := c.ends()
		return dst.len()
	case Pair:
		if c.spill != nil {
			c.ends()
			return c.pairTop.distinct
		}
		return c.pair.len()
	case SrcPort:
		return c.sport.len()
	case DstPort:
		return c.dport.len()
	case Port:
		return c.ports().len()
	case Proto:
		return countUsed(c.proto[:])
	}
	return 0
}

// ports is the Port table: a flow counts once under each of its ports, so
// a port's counters are the sums of its SrcPort and DstPort ones, derived
// here rather than counted per flow.
func (c *Counter) ports() *portTable { return sumPorts(&c.sport, &c.dport) }

func countUsed(a []Counts) int {
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
	t, err := c.top(k, []Order{o}, nil)
	if err != nil {
		return Table{}, err
	}
	return t[0], nil
}

// top is Top with the Port table given (nil: derived here).
func (c *Counter) top(k Key, os []Order, ports *portTable) ([]Table, error) {
	sels := make([]selector, len(os))
	for i, o := range os {
		if o != ByFlows && o != ByPackets && o != ByBytes {
			return nil, fmt.Errorf("talkers: unknown order %d", int(o))
		}
		sels[i] = selector{n: c.n, k: k, o: o}
	}
	// One pass over a table feeds every order's selector: the pair,
	// source and destination tables hold hundreds of thousands of keys.
	offer := func(r Row, n Counts) {
		for i := range sels {
			sels[i].offer(r, n)
		}
	}
	// passed says whether counts n are below what every full selector
	// holds, and counts them seen if so: the pair table holds hundreds of
	// thousands of keys, nearly all of them below, and their rows need
	// not be built.
	passed := func(n Counts) bool {
		for i := range sels {
			if !sels[i].below(n) {
				return false
			}
		}
		for i := range sels {
			sels[i].seen++
		}
		return true
	}
	switch k {
	case SrcIP:
		src, _ := c.ends()
		offerAddrs(offer, src)
	case DstIP:
		_, dst := c.ends()
		offerAddrs(offer, dst)
	case Pair:
		if c.spill != nil {
			c.ends()
			out := make([]Table, len(os))
			for i, o := range os {
				out[i] = Table{Key: k, Order: o, N: c.n, Distinct: c.pairTop.distinct, Rows: slices.Clone(c.pairTop.rows[o])}
			}
			return out, nil
		}
		c.pair.v4.each(func(k uint64, n Counts) {
			if !passed(n) {
				offer(Row{Addr: flow.AddrFromU32(uint32(k >> 32)), Dst: flow.AddrFromU32(uint32(k))}, n)
			}
		})
		for i, p := range c.pair.keys {
			offer(Row{Addr: p.src, Dst: p.dst}, c.pair.counts[i])
		}
	case SrcPort:
		offerPorts(offer, &c.sport)
	case DstPort:
		offerPorts(offer, &c.dport)
	case Port:
		if ports == nil {
			ports = c.ports()
		}
		offerPorts(offer, ports)
	case Proto:
		for i := range c.proto {
			if n := c.proto[i]; n.Flows != 0 {
				offer(Row{Proto: uint8(i)}, n)
			}
		}
	default:
		return nil, fmt.Errorf("talkers: unknown key %d", int(k))
	}
	out := make([]Table, len(sels))
	for i := range sels {
		rows := sels[i].result()
		if (k == DstPort || k == Port) && c.icmp != nil {
			for j := range rows {
				rows[j].ICMPFlows, rows[j].ICMPv6Flows = c.icmp[0][rows[j].Port], c.icmp[1][rows[j].Port]
			}
		}
		out[i] = Table{Key: k, Order: os[i], N: c.n, Distinct: sels[i].seen, Rows: rows}
	}
	return out, nil
}

// selector keeps the best n rows seen (all rows when n < 0) without sorting
// every key: a table of a million pairs costs one comparison per key with
// the current n-th row.
type selector struct {
	n    int
	k    Key
	o    Order
	rows []Row
	seen int
}

// below says whether the selector is full and holds rows that all come
// before any row with counts n (whatever its key): n's count in the
// selector's order is below its last row's.
func (s *selector) below(n Counts) bool {
	return s.n >= 0 && len(s.rows) == s.n && s.n > 0 && n.get(s.o) < s.rows[s.n-1].get(s.o)
}

func (s *selector) offer(r Row, n Counts) {
	s.seen++
	r.Counts = n
	if s.n < 0 {
		s.rows = append(s.rows, r)
		return
	}
	if len(s.rows) == s.n {
		if compareRows(s.k, s.o, r, s.rows[s.n-1]) >= 0 {
			return
		}
		s.rows = s.rows[:s.n-1]
	}
	i, _ := slices.BinarySearchFunc(s.rows, r, func(x, y Row) int { return compareRows(s.k, s.o, x, y) })
	s.rows = slices.Insert(s.rows, i, r)
}

func (s *selector) result() []Row {
	if s.n < 0 {
		slices.SortFunc(s.rows, func(x, y Row) int { return compareRows(s.k, s.o, x, y) })
	}
	return s.rows
}

func offerAddrs(offer func(Row, Counts), t *addrTable[netip.Addr]) {
	t.v4.each(func(k uint64, n Counts) { offer(Row{Addr: flow.AddrFromU32(uint32(k))}, n) })
	for i, a := range t.keys {
		offer(Row{Addr: a}, t.counts[i])
	}
}

func offerPorts(offer func(Row, Counts), t *portTable) {
	t.each(func(p uint16, n Counts) { offer(Row{Port: p}, n) })
}

// Tables returns every key (in Keys order) by every order (in Orders order).
func (c *Counter) Tables() []Table {
	out := make([]Table, 0, len(Keys)*len(Orders))
	ports := c.ports()
	for _, k := range Keys {
		ts, _ := c.top(k, Orders, ports) // keys and orders are the package's own
		out = append(out, ts...)
	}
	return out
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
