package ingest

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/ingest/ftfile"
)

// Options control what Run reads and how.
type Options struct {
	Jobs           int  // decoding goroutines; 0 = runtime.NumCPU()
	IncludePartial bool // read tmp- files found in trees
	// From and To (zero = open) select files by capture start: the time in
	// the name, else the flow-tools header's CAP_START. A file starting at
	// T covers [T, T') with T' the start of the next file of its directory
	// argument (T + 15 minutes for the last one and for a file named on the
	// command line) and is read when [T, T') overlaps [From, To). Files
	// with no time at all (CSV, Parquet, streams) are always read. Flows
	// themselves are not filtered.
	From, To        time.Time
	Strict          bool      // a bad CSV row is fatal
	CompatByteOrder bool      // reproduce flow-tools 0.68's big-endian misreads
	Lookahead       int       // files decoded ahead of the merge point; 0 = max(2*Jobs, 4)
	Progress        io.Writer // progress bar destination; nil = none
	Stdin           io.Reader // read for the path "-"
	BatchSize       int       // records per sink call; 0 = 4096
	// NfdumpZone is the zone nfdump printed its CSV times in (nfdump uses
	// the local zone of the machine that ran it); nil = UTC.
	NfdumpZone *time.Location
}

func (o Options) jobs() int {
	if o.Jobs > 0 {
		return o.Jobs
	}
	return runtime.NumCPU()
}

func (o Options) lookahead() int {
	if o.Lookahead > 0 {
		return o.Lookahead
	}
	return max(2*o.jobs(), 4)
}

// decoded is one file's records, sorted by End, and what went wrong in it.
type decoded struct {
	in    Input
	recs  []flow.Record
	skips []flow.Skip
	err   error // the file could not be read at all
	bytes int64
}

// decodeFile reads one whole file. Records are sorted stably by End when
// the file is not already in order, which is what makes the merge a stable
// sort of the whole archive.
func decodeFile(in Input, buf []flow.Record) decoded {
	d := decoded{in: in, recs: buf[:0]}
	f, err := os.Open(in.Path)
	if err != nil {
		d.err = err
		return d
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil {
		d.bytes = st.Size()
		if h, ok := in.Format.(countHinter); ok {
			head := make([]byte, 4096)
			n, _ := f.ReadAt(head, 0)
			if hint := h.CountHint(d.bytes, head[:n]); hint > cap(d.recs) && hint < 1<<26 {
				// Slack lets the slice serve later files of a similar
				// size once it is recycled.
				d.recs = make([]flow.Record, 0, hint+hint/4)
			}
		}
	}
	if ff, ok := in.Format.(ftfile.Format); ok {
		d.recs, err = readFT(in.Path, f, ff.Opt, d.recs, &d.skips)
	} else {
		err = in.Format.Decode(in.Path, f, func(b flow.Batch) error {
			d.recs = append(d.recs, b...)
			return nil
		}, func(s flow.Skip) { d.skips = append(d.skips, s) })
	}
	if err != nil {
		d.err = err
		return d
	}
	if !sortedByEnd(d.recs) {
		slices.SortStableFunc(d.recs, cmpEnd)
	}
	return d
}

// readFT decodes a flow-tools file straight into the file's slice: the
// same as ftfile.Format.Decode without the copy out of a batch, which was a
// tenth of the decode + merge time.
func readFT(path string, r io.Reader, opt ftfile.Options, recs []flow.Record, skips *[]flow.Skip) ([]flow.Record, error) {
	rd, err := ftfile.NewReader(r, path, opt)
	if err != nil {
		return recs, err
	}
	defer rd.Close()
	var probe [1]flow.Record
	for {
		var n int
		if len(recs) == cap(recs) {
			// Full (the header's count was right, or the slice came from
			// the pool): grow only if a record is really left, so a file
			// sized exactly is not copied for nothing at its end.
			n, err = rd.Read(probe[:])
			if n > 0 {
				recs = append(recs, probe[0])
				continue
			}
		} else {
			// A bounded chunk keeps the reader's raw buffer small (it is
			// sized to the request).
			n, err = rd.Read(recs[len(recs):min(cap(recs), len(recs)+2048)])
			recs = recs[:len(recs)+n]
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return recs, fmt.Errorf("read %s: %w", path, err)
		}
	}
	*skips = append(*skips, rd.Skips()...)
	return recs, nil
}

// sortedByEnd is slices.IsSortedFunc without copying each large record
// into a comparison function.
func sortedByEnd(recs []flow.Record) bool {
	for i := 1; i < len(recs); i++ {
		if recs[i].End < recs[i-1].End {
			return false
		}
	}
	return true
}

// bufPool recycles the record slices of merged files: a file's slice is
// reused for a later file once every record in it has been handed to the
// sink, which saves allocating, zeroing and garbage-collecting a few MB per
// file.
type bufPool struct {
	mu   sync.Mutex
	free [][]flow.Record
	max  int
}

func (p *bufPool) get() []flow.Record {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		return b
	}
	return nil
}

func (p *bufPool) put(b []flow.Record) {
	if cap(b) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) < p.max {
		p.free = append(p.free, b[:0])
	}
}

func cmpEnd(a, b flow.Record) int {
	switch {
	case a.End < b.End:
		return -1
	case a.End > b.End:
		return 1
	}
	return 0
}

// Run reads paths and hands sink the flows as a stable sort by End, ties
// broken by file order (command-line order; in a tree, capture-start
// order) and then by record order. Output is identical for every Jobs.
//
// Memory bound: files are decoded whole, each into one slice of records
// (256 bytes a record). At any moment Run holds at most
//
//	Lookahead + Jobs     files being decoded or decoded and waiting,
//	+ F                  files in the merge: those whose range of end times
//	                     contains the merge point ("files overlapping in time";
//	                     1-2 in a flow-capture tree),
//	+ Jobs + 1           recycled empty slices,
//
// so about (2 x Jobs + Lookahead + F + 1) x (flows per file) x 256 bytes,
// whatever the archive's size: with -j 2 and 15-minute files of 20,000
// flows, roughly 60 MB. Lookahead defaults to max(2 x Jobs, 4).
//
// Exactness: a flow is emitted only when its End is at or below the first
// End of each of the next Lookahead decoded files, so the output is the
// exact stable sort as long as no file holds flows ending before flows of a
// file more than Lookahead positions earlier. A file beyond that (an archive
// out of order by more than the window) still has all its flows replayed,
// late (from where the merge stands); the summary lists it as
// "out-of-order", which does not make the run partial. Raise Lookahead to
// merge such an archive exactly.
//
// sink must not keep a batch, or write to it, after it returns: batches are
// reused and may point into a decoded file.
//
// "-" reads one flow-tools stream from Options.Stdin and delivers it in
// stream order, as flow-dscan reading a pipe does (a stream is not sorted:
// that would need all of it in memory). It may appear once among other
// paths and then cuts them into groups delivered one after another:
// "a b - c" replays the merge of a and b, then the stream, then c. Run
// fails when "-" is given twice. A path that is not a regular file (a
// named pipe, <(flow-cat ...)) is a stream too, in any format ingest
// reads, and may appear any number of times.
//
// A context cancellation stops the run between batches and returns the
// context's error.
func Run(ctx context.Context, paths []string, opt Options, sink func(flow.Batch) error) (*Summary, error) {
	inputs, skips, err := Walk(paths, opt)
	if err != nil {
		return nil, err
	}
	if len(inputs) == 0 && len(skips) == 0 {
		// An empty day directory is what a capture that never ran leaves:
		// a report of nothing, exit 0, would hide that from a cron job.
		return nil, fmt.Errorf("no input files in %s", strings.Join(paths, ", "))
	}
	defer func() {
		for _, in := range inputs {
			if in.closer != nil {
				in.closer.Close()
			}
		}
	}()
	sum := &Summary{FilesSeen: len(inputs) + countFatal(skips)}
	sum.add(skips...)
	stdins := 0
	for _, in := range inputs {
		if in.Stdin {
			stdins++
		}
	}
	if stdins > 1 {
		return nil, errors.New(`"-" (standard input) given more than once`)
	}
	prog := newProgress(opt.Progress, len(inputs))
	defer prog.done()
	m := &merger{opt: opt, sink: sink, sum: sum, prog: prog}
	// Standard input splits the inputs into groups merged on their own.
	for len(inputs) > 0 {
		k := slices.IndexFunc(inputs, func(in Input) bool { return in.Stdin || in.Stream })
		if k < 0 {
			k = len(inputs)
		}
		if k > 0 {
			if err := m.run(ctx, inputs[:k]); err != nil {
				return sum, err
			}
			inputs = inputs[k:]
			continue
		}
		if err := runStream(ctx, inputs[0], opt, sum, sink); err != nil {
			return sum, err
		}
		prog.file(0)
		inputs = inputs[1:]
	}
	return sum, nil
}

func countFatal(s []flow.Skip) int {
	n := 0
	for _, k := range s {
		if k.Fatal {
			n++
		}
	}
	return n
}

// runStream delivers standard input (flow-tools) or a stream path (its
// sniffed format) in stream order.
func runStream(ctx context.Context, in Input, opt Options, sum *Summary, sink func(flow.Batch) error) error {
	name, r, fm := in.Path, in.stream, in.Format
	if in.Stdin {
		if opt.Stdin == nil {
			return errors.New("no standard input")
		}
		name, r, fm = "standard input", opt.Stdin, streamFormat(opt)
	}
	err := fm.Decode(in.Path, r, func(b flow.Batch) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		sum.Flows += uint64(len(b))
		return sink(b)
	}, func(s flow.Skip) { sum.add(s) })
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	sum.FilesRead++
	return nil
}

// merger decodes files in parallel and merges them in order.
type merger struct {
	held, maxHeld atomic.Int64 // files being decoded or holding records; tests check the bound

	opt  Options
	sink func(flow.Batch) error
	sum  *Summary
	prog *progress

	ctx     context.Context
	pool    bufPool
	out     flow.Batch
	lastEnd int64
	emitted bool
}

func (m *merger) run(ctx context.Context, inputs []Input) error {
	m.ctx = ctx
	m.emitted = false // out-of-order is judged within one group
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n := len(inputs)
	look := m.opt.lookahead()
	m.pool.max = m.opt.jobs() + 1 // a slice is freed about as often as one is taken
	// slots[i] delivers file i once decoded; tokens bound files in flight.
	slots := make([]chan decoded, n)
	for i := range slots {
		slots[i] = make(chan decoded, 1)
	}
	tokens := make(chan struct{}, look+m.opt.jobs())
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < m.opt.jobs(); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				m.hold(1)
				slots[i] <- decodeFile(inputs[i], m.pool.get())
			}
		}()
	}
	go func() {
		defer close(work)
		for i := 0; i < n; i++ {
			select {
			case tokens <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case work <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	defer wg.Wait()
	defer cancel()

	window := make([]*decoded, 0, look) // decoded, not yet in the heap, in file order
	next := 0                           // next file to take from slots
	h := &cursorHeap{}
	fill := func() error {
		for len(window) < look && next < n {
			var d decoded
			select {
			case d = <-slots[next]:
			case <-ctx.Done():
				return ctx.Err()
			}
			next++
			m.prog.file(len(d.recs))
			if !m.accept(&d) {
				m.pool.put(d.recs)
				m.hold(-1)
				<-tokens
				continue
			}
			window = append(window, &d)
		}
		return nil
	}
	// enter moves the first waiting file into the merge. Its token goes
	// back at once: files in the merge are bounded by how many overlap in
	// time, not by the token count (holding them under the tokens would
	// stall the decoders as soon as more files overlap than Jobs).
	enter := func() {
		m.push(h, window[0])
		window[0] = nil
		window = window[1:]
		<-tokens
	}
	for {
		if err := fill(); err != nil {
			return err
		}
		if h.Len() == 0 {
			if len(window) == 0 {
				break
			}
			enter()
			continue
		}
		// bound: no file still waiting may hold a record before it.
		bound, haveBound := int64(0), false
		for _, d := range window {
			if e := d.recs[0].End; !haveBound || e < bound {
				bound, haveBound = e, true
			}
		}
		top := (*h)[0]
		if haveBound && top.peek() > bound {
			enter()
			continue
		}
		// Emit a run from the top file: records up to the bound and up to
		// the next file in the heap (ties go to the earlier file).
		c := heap.Pop(h).(*cursor)
		limit, limitOrder := int64(0), -1
		if h.Len() > 0 {
			limit, limitOrder = (*h)[0].peek(), (*h)[0].order
		}
		if haveBound && (limitOrder < 0 || bound < limit) {
			limit, limitOrder = bound, int(^uint(0)>>1)
		}
		// The run ends at the first record past the limit (a tie goes to
		// the earlier file); records are sorted, so a binary search finds
		// it without touching every record.
		start := c.pos
		if limitOrder < 0 {
			c.pos = len(c.recs)
		} else {
			inclusive := c.order < limitOrder
			rest := c.recs[c.pos:]
			c.pos += sort.Search(len(rest), func(i int) bool {
				e := rest[i].End
				return e > limit || (e == limit && !inclusive)
			})
		}
		if err := m.emit(c.recs[start:c.pos]); err != nil {
			return err
		}
		if c.pos < len(c.recs) {
			heap.Push(h, c)
		} else {
			// Every record of c is now with the sink or copied to m.out.
			m.pool.put(c.recs)
			m.hold(-1)
			c.recs = nil
		}
	}
	return m.flush()
}

func (m *merger) hold(d int64) {
	n := m.held.Add(d)
	for {
		old := m.maxHeld.Load()
		if n <= old || m.maxHeld.CompareAndSwap(old, n) {
			return
		}
	}
}

// accept records a decoded file's outcome in the summary; false means it
// has nothing to merge.
func (m *merger) accept(d *decoded) bool {
	m.sum.add(d.skips...)
	m.sum.Bytes += d.bytes
	if d.err != nil {
		m.sum.add(flow.Skip{Path: d.in.Path, Offset: -1, Reason: "unreadable", Detail: d.err.Error(), Fatal: true, Count: 1})
		return false
	}
	m.sum.FilesRead++
	return len(d.recs) > 0
}

func (m *merger) push(h *cursorHeap, d *decoded) {
	if m.emitted && d.recs[0].End < m.lastEnd {
		m.sum.add(flow.Skip{Path: d.in.Path, Offset: -1, Reason: "out-of-order",
			Detail: fmt.Sprintf("file holds flows ending before flows already replayed (more than %d files out of order); its flows are replayed late, none lost", m.opt.lookahead()),
			Count:  1})
	}
	heap.Push(h, &cursor{recs: d.recs, order: d.in.order})
}

func (m *merger) emit(recs []flow.Record) error {
	if len(recs) == 0 {
		return nil
	}
	if err := m.ctx.Err(); err != nil {
		return err
	}
	m.lastEnd, m.emitted = recs[len(recs)-1].End, true
	size := m.opt.BatchSize
	if size <= 0 {
		size = 4096
	}
	// Long runs go to the sink straight from the decoded file, without a copy.
	for len(recs) > 0 && len(recs) >= max(size/4, 1) {
		if err := m.flush(); err != nil {
			return err
		}
		k := min(size, len(recs))
		m.sum.Flows += uint64(k)
		if err := m.sink(recs[:k:k]); err != nil {
			return err
		}
		recs = recs[k:]
	}
	for len(recs) > 0 {
		room := size - len(m.out)
		k := min(room, len(recs))
		m.out = append(m.out, recs[:k]...)
		recs = recs[k:]
		if len(m.out) == size {
			if err := m.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *merger) flush() error {
	if len(m.out) == 0 {
		return nil
	}
	m.sum.Flows += uint64(len(m.out))
	err := m.sink(m.out)
	m.out = m.out[:0] // the sink does not keep batches (see Run)
	return err
}

type cursor struct {
	recs  []flow.Record
	pos   int
	order int
}

func (c *cursor) peek() int64 { return c.recs[c.pos].End }

type cursorHeap []*cursor

func (h cursorHeap) Len() int { return len(h) }
func (h cursorHeap) Less(i, j int) bool {
	a, b := h[i].peek(), h[j].peek()
	if a != b {
		return a < b
	}
	return h[i].order < h[j].order
}
func (h cursorHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *cursorHeap) Push(x any)   { *h = append(*h, x.(*cursor)) }
func (h *cursorHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
