package ingest

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/ingest/ftfile"
)

// The merge: every file is decoded by a producer goroutine of its own into
// chunks of records; the producer puts each chunk in End order within a
// reorder window (reorder) and hands the chunks on; the merger keeps a heap
// of the files in play and emits runs of records in End order, ties to the
// file first in command-line order. Files enter in the order of their
// capture start across every path given (several routers' trees
// interleave), and memory holds only the files near the merge point:
// whatever the size of a file, a producer holds at most its reorder window
// and one chunk, and two more chunks wait for the merger.

// chunkSize is the records a producer decodes at once (1 MiB). Each file
// in play holds its reorder window and four chunks more; with chunks of
// 16,384 a 16M-flow tree peaked at 409 MB in dscan -j 2, with 4,096 at
// 230 MB and the same CPU time. Chunks are smaller than the pass's batches,
// so runs are copied into batches (a copy is cheaper than the hand-offs of
// batches a quarter the size: measured on the report).
const chunkSize = 4096

// chunks recycles the chunks the merger has emitted every record of: a
// run decodes every flow into a chunk, and fresh memory for each costs
// page faults (a third more than the whole-file design's when sync.Pool,
// emptied by every collection, held them). At most max are kept.
type chunks struct {
	mu   sync.Mutex
	free [][]flow.Record
	max  int
	made int // chunks allocated, not taken from free
}

func (p *chunks) get() []flow.Record {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		c := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		return c
	}
	p.made++
	return make([]flow.Record, 0, chunkSize)
}

func (p *chunks) put(c []flow.Record) {
	if cap(c) != chunkSize {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) < p.max {
		p.free = append(p.free, c[:0])
	}
}

// reorder puts a file's records in End order within a window: the records
// of a chunk are sorted (stably), and a chunk that starts before the end
// of the ones still held is merged into them. Records leave, a chunk at a
// time, once more than window records are held after them, so a record
// displaced by fewer than window positions comes out in its place; one
// displaced further comes out late (the merger counts it). Ties keep the
// file's order. For a file already in order, which is the usual case,
// this costs one comparison a record.
type reorder struct {
	pool    *chunks
	window  int
	chunks  [][]flow.Record // held, together in End order
	held    int
	lastEnd int64
	send    func([]flow.Record) error
}

func (q *reorder) add(c []flow.Record) error {
	if len(c) == 0 {
		q.pool.put(c)
		return nil
	}
	if !sortedByEnd(c) {
		slices.SortStableFunc(c, cmpEnd)
	}
	if q.held > 0 && c[0].End < q.lastEnd {
		q.mergeTail(c)
	} else {
		q.chunks = append(q.chunks, c)
		q.held += len(c)
	}
	q.lastEnd = q.chunks[len(q.chunks)-1][len(q.chunks[len(q.chunks)-1])-1].End
	for len(q.chunks) > 1 && q.held-len(q.chunks[0]) >= q.window {
		if err := q.release(); err != nil {
			return err
		}
	}
	return nil
}

// mergeTail merges the sorted chunk c into the held records: the held ones
// that end after c's first record, and c, make one new sorted chunk (held
// records first on equal End).
func (q *reorder) mergeTail(c []flow.Record) {
	k := len(q.chunks) - 1
	for k > 0 && q.chunks[k-1][len(q.chunks[k-1])-1].End > c[0].End {
		k--
	}
	head := q.chunks[k]
	pos := sort.Search(len(head), func(i int) bool { return head[i].End > c[0].End })
	var tail []flow.Record
	n := len(head) - pos
	for _, ch := range q.chunks[k+1:] {
		n += len(ch)
	}
	tail = make([]flow.Record, 0, n)
	tail = append(tail, head[pos:]...)
	for _, ch := range q.chunks[k+1:] {
		tail = append(tail, ch...)
		q.pool.put(ch)
	}
	merged := make([]flow.Record, 0, len(tail)+len(c))
	i, j := 0, 0
	for i < len(tail) && j < len(c) {
		if c[j].End < tail[i].End {
			merged = append(merged, c[j])
			j++
		} else {
			merged = append(merged, tail[i])
			i++
		}
	}
	merged = append(merged, tail[i:]...)
	merged = append(merged, c[j:]...)
	q.pool.put(c)
	q.chunks = q.chunks[:k+1]
	if pos == 0 {
		q.pool.put(head)
		q.chunks[k] = merged
	} else {
		q.chunks[k] = head[:pos]
		q.chunks = append(q.chunks, merged)
	}
	q.held = 0
	for _, ch := range q.chunks {
		q.held += len(ch)
	}
}

func (q *reorder) release() error {
	c := q.chunks[0]
	q.chunks[0] = nil
	q.chunks = q.chunks[1:]
	q.held -= len(c)
	return q.send(c)
}

// flush releases every held record.
func (q *reorder) flush() error {
	for len(q.chunks) > 0 {
		if err := q.release(); err != nil {
			return err
		}
	}
	return nil
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

func cmpEnd(a, b flow.Record) int {
	switch {
	case a.End < b.End:
		return -1
	case a.End > b.End:
		return 1
	}
	return 0
}

// fileStream is one file being decoded: its producer sends sorted chunks on
// ch and closes it at the end, after filling res.
type fileStream struct {
	in  Input
	ch  chan []flow.Record
	res fileResult
}

type fileResult struct {
	skips []flow.Skip
	err   error // the file could not be read at all
	bytes int64
	early int64 // flows ending before the file's start less the export delay
}

// produce decodes fs's file into chunks. It holds one of the run's decode
// tokens while it works and gives it back while it waits for the merger,
// so that at most Jobs files are decoded at once and a file the merger
// waits for is never stuck behind files that are ahead.
func (m *merger) produce(fs *fileStream) {
	defer close(fs.ch)
	m.acquire()
	defer m.release()
	lb, timed := int64(0), !fs.in.Time.IsZero()
	if timed {
		lb = fs.in.Time.Add(-m.opt.exportDelay()).UnixMilli()
	}
	q := &reorder{pool: &m.chunks, window: m.opt.reorder(), send: func(c []flow.Record) error {
		if timed && c[0].End < lb {
			fs.res.early += int64(sort.Search(len(c), func(i int) bool { return c[i].End >= lb }))
		}
		m.release()
		defer m.acquire()
		select {
		case fs.ch <- c:
			return nil
		case <-m.done:
			m.chunks.put(c)
			return errStopped
		}
	}}
	fil := newAddrFilter(m.opt, fs.in.Path)
	add := func(c []flow.Record) error { return q.add(fil.keep(c)) }
	err := decodeStream(fs.in, m.opt, &m.chunks, &fs.res, add)
	if err == nil {
		err = q.flush()
	}
	fs.res.skips = append(fs.res.skips, fil.skips()...)
	if err != nil && !errors.Is(err, errStopped) {
		fs.res.err = err
	}
}

// errStopped ends a producer whose run has stopped.
var errStopped = errors.New("run stopped")

// decodeStream decodes one file, handing add chunks it may keep.
func decodeStream(in Input, opt Options, pool *chunks, res *fileResult, add func([]flow.Record) error) error {
	f, err := os.Open(in.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil {
		res.bytes = st.Size()
	}
	skip := func(s flow.Skip) { res.skips = append(res.skips, s) }
	if ff, ok := in.Format.(ftfile.Format); ok {
		return readFT(in.Path, f, ff.Opt, pool, add, skip)
	}
	c := pool.get()
	err = in.Format.Decode(in.Path, f, func(b flow.Batch) error {
		for len(b) > 0 {
			k := min(len(b), chunkSize-len(c))
			c = append(c, b[:k]...)
			b = b[k:]
			if len(c) == chunkSize {
				if err := add(c); err != nil {
					return err
				}
				c = pool.get()
			}
		}
		return nil
	}, skip)
	if err == nil {
		return add(c)
	}
	pool.put(c)
	return err
}

// readFT decodes a flow-tools file straight into chunks: the same as
// ftfile.Format.Decode without the copy out of a batch, which was a tenth
// of the decode + merge time.
func readFT(path string, r io.Reader, opt ftfile.Options, pool *chunks, add func([]flow.Record) error, skip func(flow.Skip)) error {
	rd, err := ftfile.NewReader(r, path, opt)
	if err != nil {
		return err
	}
	defer rd.Close()
	for {
		c := pool.get()
		n, err := rd.Read(c[:chunkSize])
		c = c[:n]
		if aerr := add(c); aerr != nil {
			return aerr
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
	}
	for _, s := range rd.Skips() {
		skip(s)
	}
	return nil
}

// addrFilter drops, with RequireAddresses, the records that carry no
// source or destination address (v8 aggregations): no analyser can use
// them, and a zero address would read as a scanner.
type addrFilter struct {
	on      bool
	path    string
	dropped int64
	kept    int64
	missing uint64 // the address fields the dropped records lacked
}

func newAddrFilter(opt Options, path string) *addrFilter {
	return &addrFilter{on: opt.RequireAddresses, path: path}
}

const needAddrs = flow.FSrcAddr | flow.FDstAddr

func (f *addrFilter) keep(c []flow.Record) []flow.Record {
	if !f.on {
		return c
	}
	// Records move only after the first one dropped: a chunk with every
	// address (nearly every chunk) is not copied onto itself, 256 bytes a
	// record.
	first := len(c)
	for i := range c {
		if c[i].Fields&needAddrs != needAddrs {
			first = i
			break
		}
	}
	out := c[:first]
	for i := first; i < len(c); i++ {
		if c[i].Fields&needAddrs == needAddrs {
			out = append(out, c[i])
		} else {
			f.dropped++
			f.missing |= needAddrs &^ c[i].Fields
		}
	}
	f.kept += int64(len(out))
	return out
}

func (f *addrFilter) skips() []flow.Skip {
	if f.dropped == 0 {
		return nil
	}
	detail := fmt.Sprintf("%d records carry no source and destination address (an aggregation such as export version 8): the detectors cannot use them", f.dropped)
	// One address alone missing is a CSV without that column, not an
	// aggregation: say which.
	switch f.missing {
	case flow.FDstAddr:
		detail = fmt.Sprintf("%d records carry no destination address (no dstaddr column): the detectors cannot use them", f.dropped)
	case flow.FSrcAddr:
		detail = fmt.Sprintf("%d records carry no source address (no srcaddr column): the detectors cannot use them", f.dropped)
	}
	return []flow.Skip{{Path: f.path, Offset: -1, Reason: "no-addresses", Fatal: f.kept == 0, Count: f.dropped, Detail: detail}}
}

// merger merges the files of one group (see Run).
type merger struct {
	held, maxHeld atomic.Int64 // files with a producer running or chunks waiting; tests check the bound

	opt  Options
	sink func(flow.Batch) error
	sum  *Summary
	prog *progress

	ctx    context.Context
	done   chan struct{} // closed when the group ends
	tokens chan struct{} // decode tokens, Jobs of them
	chunks chunks

	out     flow.Batch
	lastEnd int64
	emitted bool
}

func (m *merger) acquire() { m.tokens <- struct{}{} }
func (m *merger) release() { <-m.tokens }

// cursor is a file in play: its current chunk and where the merge is in it.
type cursor struct {
	fs    *fileStream
	recs  []flow.Record
	pos   int
	order int
	flows int
	late  int64
}

func (c *cursor) peek() int64 { return c.recs[c.pos].End }

// next moves to the file's next chunk; false at its end (or when the run
// stops).
func (c *cursor) next(m *merger) bool {
	if c.recs != nil {
		m.chunks.put(c.recs)
		c.recs = nil
	}
	for {
		select {
		case r, ok := <-c.fs.ch:
			if !ok {
				return false
			}
			if len(r) == 0 {
				m.chunks.put(r)
				continue
			}
			c.recs, c.pos = r, 0
			return true
		case <-m.ctx.Done():
			return false
		}
	}
}

// key is a file's place in the schedule: capture start, the time in its
// name (or header). A file without a time keeps the place of the file
// before it in command-line order.
func schedule(inputs []Input) []int {
	keys := make([]int64, len(inputs))
	prev := int64(math.MinInt64)
	for i, in := range inputs {
		if !in.Time.IsZero() {
			prev = in.Time.UnixMilli()
		}
		keys[i] = prev
	}
	idx := make([]int, len(inputs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case keys[a] < keys[b]:
			return -1
		case keys[a] > keys[b]:
			return 1
		}
		return 0
	})
	return idx
}

func (m *merger) run(ctx context.Context, inputs []Input) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m.ctx = ctx
	m.done = make(chan struct{})
	m.emitted = false // out-of-order is judged within one group
	m.tokens = make(chan struct{}, m.opt.jobs())
	// A chunk is freed about as often as one is taken; a few spare ones
	// cover the producers running ahead. And a file that ends frees its
	// reorder window and the chunks after it at once, which the next
	// file's producer takes up: with room for only the few, a day of
	// background radiation (97 files of 165 k flows) allocated 937 MB of
	// chunks, each file's window anew, and a day of the samples 79 MB
	// (15 MB with room for a window).
	m.chunks.max = m.opt.jobs() + 2 + m.opt.reorder()/chunkSize + 4
	var wg sync.WaitGroup
	defer func() {
		close(m.done)
		wg.Wait()
	}()

	order := schedule(inputs)
	delay := m.opt.exportDelay().Milliseconds()
	look, jobs := m.opt.lookahead(), m.opt.jobs()
	next := 0             // next file of order to start
	var started []*cursor // started, not yet in the heap, in schedule order
	h := &cursorHeap{}    // files in play
	start := func() {
		in := inputs[order[next]]
		next++
		fs := &fileStream{in: in, ch: make(chan []flow.Record, 2)}
		m.hold(1)
		wg.Add(1)
		go func() { defer wg.Done(); m.produce(fs) }()
		started = append(started, &cursor{fs: fs, order: in.order})
	}
	// lowest is the earliest End a timed file may hold: its capture start
	// less the export delay.
	lowest := func(in Input) (int64, bool) {
		if in.Time.IsZero() {
			return 0, false
		}
		return in.Time.UnixMilli() - delay, true
	}
	// due says whether the file may hold flows ending at or before the
	// merge point: then it must be in play before the merge goes on.
	due := func(in Input) bool {
		lo, timed := lowest(in)
		return h.Len() > 0 && timed && lo <= (*h)[0].peek()
	}
	for {
		// The files whose first records bound the merge: Lookahead of
		// them, and every file due (several routers' files of the same
		// quarter hour). Jobs more are started beyond them, so that
		// decoding runs ahead of the merge.
		wait := min(len(started), look)
		for wait < len(started) && due(started[wait].fs.in) {
			wait++
		}
		for next < len(order) && (len(started) < wait+jobs || len(started) < look || due(inputs[order[next]])) {
			start()
			if due(started[len(started)-1].fs.in) && wait == len(started)-1 {
				wait++
			}
		}
		wait = min(max(wait, min(look, len(started))), len(started))
		// Their first chunks: the bound below needs them.
		for i := 0; i < wait; {
			c := started[i]
			if c.recs != nil || c.next(m) {
				i++
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			m.finish(c)
			started = slices.Delete(started, i, i+1)
			wait--
		}
		if h.Len() == 0 {
			if len(started) == 0 {
				break
			}
			if wait == 0 {
				wait = 1
				continue
			}
			heap.Push(h, started[0])
			started = started[1:]
			continue
		}
		// bound: no file out of play may hold a record before it (a tie
		// goes to the earlier file). Beyond the files waited for, a timed
		// file holds none before its start less the export delay; a file
		// without a time is taken to start after them.
		bound, boundOrder := int64(math.MaxInt64), math.MaxInt
		for _, c := range started[:wait] {
			if e := c.peek(); e < bound || (e == bound && c.order < boundOrder) {
				bound, boundOrder = e, c.order
			}
		}
		var beyond *Input
		if wait < len(started) {
			beyond = &started[wait].fs.in
		} else if next < len(order) {
			beyond = &inputs[order[next]]
		}
		if beyond != nil {
			if lo, timed := lowest(*beyond); timed && lo < bound {
				bound, boundOrder = lo, beyond.order
			}
		}
		top := (*h)[0]
		if wait > 0 && (top.peek() > bound || (top.peek() == bound && boundOrder < top.order)) {
			if i := slices.IndexFunc(started[:wait], func(c *cursor) bool { return c.peek() == bound && c.order == boundOrder }); i >= 0 {
				heap.Push(h, started[i])
				started = slices.Delete(started, i, i+1)
				continue
			}
		}
		// Emit a run from the top file: records up to the bound and up to
		// the next file in the heap (ties go to the earlier file).
		c := heap.Pop(h).(*cursor)
		limit, limitOrder := bound, boundOrder
		if h.Len() > 0 {
			if e, o := (*h)[0].peek(), (*h)[0].order; e < limit || (e == limit && o < limitOrder) {
				limit, limitOrder = e, o
			}
		}
		from := c.pos
		rest := c.recs[c.pos:]
		inclusive := c.order < limitOrder
		c.pos += sort.Search(len(rest), func(i int) bool {
			e := rest[i].End
			return e > limit || (e == limit && !inclusive)
		})
		if c.pos == from {
			// Only a file not yet waited for bounds the top file: the
			// loop above makes it due (its start is within the delay).
			heap.Push(h, c)
			if wait == len(started) && next < len(order) {
				start()
			}
			continue
		}
		if err := m.emit(c, c.recs[from:c.pos]); err != nil {
			return err
		}
		if c.pos < len(c.recs) || c.next(m) {
			heap.Push(h, c)
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		m.finish(c)
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

// finish records a file's outcome once its producer is done and every
// record of it is emitted.
func (m *merger) finish(c *cursor) {
	m.hold(-1)
	r := &c.fs.res
	m.sum.add(r.skips...)
	m.sum.Bytes += r.bytes
	in := c.fs.in
	m.prog.file(c.flows, r.bytes)
	if r.err != nil {
		m.sum.add(flow.Skip{Path: in.Path, Offset: -1, Reason: "unreadable", Detail: r.err.Error(), Fatal: true, Count: 1})
		return
	}
	m.sum.FilesRead++
	m.sum.source(in.arg).Files++
	m.sum.source(in.arg).addFormat(in.Format.Name())
	if r.early > 0 {
		m.sum.add(flow.Skip{Path: in.Path, Offset: -1, Reason: "beyond-delay", Count: r.early,
			Detail: fmt.Sprintf("%d flows ended more than the export delay (%s) before the file's capture start (%s); all were read, but a --from/--to window reads files by that delay and may miss flows like these: raise --export-delay",
				r.early, m.opt.exportDelay(), in.Time.UTC().Format("2006-01-02 15:04:05"))})
	}
	if c.late > 0 {
		m.sum.add(flow.Skip{Path: in.Path, Offset: -1, Reason: "out-of-order", Count: c.late,
			Detail: fmt.Sprintf("%d flows end before flows already replayed (the file is out of order by more than %d records, or its name or header starts it later than its flows and the export delay allow); they were replayed late, none lost",
				c.late, m.opt.reorder())})
	}
}

func (m *merger) emit(c *cursor, recs []flow.Record) error {
	if err := m.ctx.Err(); err != nil {
		return err
	}
	if m.emitted && recs[0].End < m.lastEnd {
		lastEnd := m.lastEnd
		c.late += int64(sort.Search(len(recs), func(i int) bool { return recs[i].End >= lastEnd }))
	}
	if e := recs[len(recs)-1].End; !m.emitted || e > m.lastEnd {
		m.lastEnd = e
	}
	m.emitted = true
	c.flows += len(recs)
	m.sum.source(c.fs.in.arg).count(recs[0].End, recs[len(recs)-1].End, len(recs))
	size := m.opt.BatchSize
	if size <= 0 {
		size = 4096
	}
	// A run of a whole batch goes to the sink straight from the chunk.
	for len(recs) >= size {
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
	if m.out == nil {
		// Grown by append, a 16k-flow batch went through a dozen smaller
		// arrays on its way (Go grows large slices by a quarter): 10 MB of
		// fresh memory on the sample day, where the batch takes 4 MB.
		m.out = make([]flow.Record, 0, size)
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
