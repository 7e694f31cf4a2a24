package episode

// spares keeps the runs and sources a sweep let go, for the runs and
// sources that come next. Behind background radiation a new source comes
// every few flows and goes a sweep later: on a day of it (16 M flows,
// 5.3 M sources) the accountant allocated 2.5 GB, most of it these
// structs and their first logs, and the collector had to trace the live
// heap again for every few hundred megabytes allocated. A spare run keeps
// its logs and tables when they are small, emptied.
type spares struct {
	runs []*run
	srcs []*source
	// limit bounds each list: what is kept stays live until reused, so
	// the lists keep what the next sweep's interval is likely to take,
	// as many as the sources that came new in the last one (at least
	// minSpares); see setLimit.
	limit  int
	fresh  int // sources taken since the last setLimit
	reused int // runs and sources handed out again (for the tests)
}

const (
	minSpares = 1 << 12
	// maxKept is the largest capacity of a log or table a spare run
	// keeps: a big run's would hold memory for the small ones to come.
	maxKept = 64
)

// setLimit bounds the lists for the interval to come by the new sources
// of the one that ended, and lets go of spares beyond it.
func (p *spares) setLimit() {
	p.limit, p.fresh = max(minSpares, p.fresh), 0
	if len(p.runs) > p.limit {
		clear(p.runs[p.limit:])
		p.runs = p.runs[:p.limit]
	}
	if len(p.srcs) > p.limit {
		clear(p.srcs[p.limit:])
		p.srcs = p.srcs[:p.limit]
	}
}

func (p *spares) run() *run {
	if r := take(&p.runs); r != nil {
		p.reused++
		return r
	}
	return &run{}
}

// take pops the last of list, nil if list is empty.
func take[T any](list *[]*T) *T {
	n := len(*list)
	if n == 0 {
		return nil
	}
	x := (*list)[n-1]
	(*list)[n-1] = nil
	*list = (*list)[:n-1]
	return x
}

// keepRun empties r, which nothing may reference any more, and keeps it.
func (p *spares) keepRun(r *run) {
	if len(p.runs) >= max(p.limit, minSpares) {
		return
	}
	ports, dsts := r.ports, r.dsts.v4
	*r = run{}
	r.ports = ports.emptied()
	r.dsts.v4 = dsts.emptied()
	p.runs = append(p.runs, r)
}

func (p *spares) source() *source {
	p.fresh++
	if s := take(&p.srcs); s != nil {
		p.reused++
		return s
	}
	return &source{}
}

// keepSource keeps s, whose runs are all gone.
func (p *spares) keepSource(s *source) {
	if s == nil || len(p.srcs) >= max(p.limit, minSpares) {
		return
	}
	runs := s.runs[:0]
	if cap(runs) > maxKept {
		runs = nil
	}
	*s = source{runs: runs}
	p.srcs = append(p.srcs, s)
}

// emptied is c with no keys, keeping the storage of its log and table
// when they are small.
func (c keyCounts) emptied() keyCounts {
	var e keyCounts
	if cap(c.log) <= maxKept {
		e.log = c.log[:0]
	}
	if cap(c.keys) <= maxKept && cap(c.counts) <= maxKept {
		e.keys, e.counts = c.keys[:0], c.counts[:0]
	}
	return e
}
