package dscan

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// stateMagic opens a default-mode state file; the version lets a later
// flowsift refuse or convert an older layout instead of misreading it.
const stateMagic = "flowsift-dscan-state 1"

// SaveState writes the default engine's table: a versioned text file that
// keeps the flow index, so the next run continues this run's aging
// exactly, and ends with a SHA-256 of everything before it.
//
//	flowsift-dscan-state 1
//	total N
//	S addr flags lastseen          one per source, least recently seen first
//	D addr seen [p1,p2,...]        its destinations, least recently seen first
//	end
//	sha256 HEX
func (e *Engine) SaveState(w io.Writer) error {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "%s\ntotal %d\n", stateMagic, e.total)
	var srcs []*source
	for _, p := range e.parts {
		for s := p.lru.head; s != nil; s = s.next {
			srcs = append(srcs, s)
		}
	}
	slices.SortFunc(srcs, func(a, b *source) int {
		if a.lastSeen != b.lastSeen {
			if a.lastSeen < b.lastSeen {
				return -1
			}
			return 1
		}
		return a.addr.Compare(b.addr)
	})
	for _, s := range srcs {
		fmt.Fprintf(&buf, "S %s %d %d\n", s.addr, s.flags, s.lastSeen)
		for d := s.dl.head; d != nil; d = d.next {
			fmt.Fprintf(&buf, "D %s %d", d.addr, d.seen)
			if ports := d.ports.list(); len(ports) > 0 {
				buf.WriteByte(' ')
				for i, p := range ports {
					if i > 0 {
						buf.WriteByte(',')
					}
					buf.WriteString(strconv.Itoa(int(p)))
				}
			}
			buf.WriteByte('\n')
		}
	}
	buf.WriteString("end\n")
	sum := sha256.Sum256(buf.Bytes())
	fmt.Fprintf(&buf, "sha256 %s\n", hex.EncodeToString(sum[:]))
	_, err := w.Write(buf.Bytes())
	return err
}

// maxStateLine bounds a line of a state file. The longest a SaveState
// writes is a destination with every port below 1024, some 5 kB; a longer
// line is damage, and reading it whole would let one line take any amount
// of memory.
const maxStateLine = 64 << 10

// MaxStateTotal is the largest flow index a state file may carry: the
// next run counts on from it, and the index must not wrap (2^62 flows is
// some 14,000 years at ten million flows a second).
const MaxStateTotal = 1 << 62

// LoadState reads a state SaveState wrote, replacing the table and the
// flow index. Any damage (bad checksum, truncation, a malformed or overlong
// line, a flow index that would wrap) is an error naming the line; nothing
// is loaded then. The file is read as a stream, and a source's list keeps
// at most D (-D) destinations, the most recently seen: every list is
// bounded by D in a run, and a state written with a larger -D (or forged)
// must not bring more. LoadTrimmed says how many were dropped.
func (e *Engine) LoadState(r io.Reader, name string) error {
	br := bufio.NewReaderSize(r, maxStateLine)
	h := sha256.New()
	fresh := New(e.cfg, e.onEvent)
	var (
		line      int
		cur       *source
		curPart   *part
		sawEnd    bool
		sum       string // the checksum line's value
		parseErr  error
		trimSrc   int
		trimDst   uint64
		lastTrim  *source
		afterHash bool
	)
	bad := func(msg string) error { return fmt.Errorf("state file %s: line %d: %s", name, line, msg) }
	for {
		raw, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			line++
			return bad(fmt.Sprintf("longer than %d bytes: not a state line (damaged file?)", maxStateLine))
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("state file %s: line %d: %w", name, line+1, err)
		}
		if len(raw) == 0 {
			break
		}
		line++
		text := strings.TrimSuffix(string(raw), "\n")
		if line == 1 {
			if text != stateMagic {
				return fmt.Errorf("state file %s: line 1: not a flowsift default-mode state (%q); flow-dscan's text state loads with --compat", name, truncate(text, 40))
			}
		}
		if afterHash {
			return bad("text after the checksum line")
		}
		if strings.HasPrefix(text, "sha256 ") && raw[len(raw)-1] == '\n' {
			sum, afterHash = strings.TrimPrefix(text, "sha256 "), true
			continue
		}
		h.Write(raw)
		if parseErr != nil || line == 1 {
			// After damage the rest is only hashed: a changed or cut file
			// is reported as such rather than by its first odd line.
			continue
		}
		f := strings.Fields(text)
		switch {
		case len(f) == 2 && f[0] == "total":
			n, err := strconv.ParseUint(f[1], 10, 64)
			switch {
			case err != nil:
				parseErr = bad("bad total")
			case n > MaxStateTotal:
				parseErr = bad(fmt.Sprintf("total %d: beyond %d flows the flow index of the next run would wrap", n, uint64(MaxStateTotal)))
			}
			fresh.total = n
		case len(f) == 4 && f[0] == "S":
			a, err1 := netip.ParseAddr(f[1])
			flags, err2 := strconv.ParseUint(f[2], 10, 8)
			last, err3 := strconv.ParseUint(f[3], 10, 64)
			if err1 != nil || err2 != nil || err3 != nil || last > fresh.total {
				parseErr = bad("bad source line")
				continue
			}
			curPart = fresh.parts[partOf(a)]
			if curPart.getSrc(a) != nil {
				parseErr = bad("source listed twice")
				continue
			}
			cur = &source{addr: a, flags: uint8(flags), lastSeen: last}
			curPart.putSrc(cur)
			curPart.lru.pushBack(cur)
		case (len(f) == 3 || len(f) == 4) && f[0] == "D":
			if cur == nil {
				parseErr = bad("destination before any source")
				continue
			}
			a, err1 := netip.ParseAddr(f[1])
			seen, err2 := strconv.ParseUint(f[2], 10, 64)
			if err1 != nil || err2 != nil || seen > cur.lastSeen {
				parseErr = bad("bad destination line")
				continue
			}
			// A trimmed destination goes to the free list; taking from it
			// keeps a list cut to D at D destinations in memory, not all
			// the file names.
			d := curPart.freeDst
			if d != nil {
				curPart.freeDst = d.next
				*d = dest{addr: a, seen: seen}
			} else {
				d = &dest{addr: a, seen: seen}
			}
			if len(f) == 4 {
				d.ports = curPart.newPorts()
				for _, ps := range strings.Split(f[3], ",") {
					p, err := strconv.ParseUint(ps, 10, 16)
					if err != nil || p >= 1024 {
						parseErr = bad("bad port list")
						break
					}
					d.ports.add(uint16(p))
				}
				if parseErr != nil {
					continue
				}
			}
			if curPart.getDst(cur, a) != nil {
				parseErr = bad("destination listed twice")
				continue
			}
			if cur.dl.tail != nil && seen < cur.dl.tail.seen {
				parseErr = bad("destinations out of order")
				continue
			}
			curPart.putDst(cur, d)
			if int(cur.ndst) > e.cfg.Depth && e.cfg.Depth > 0 {
				curPart.delDst(cur, cur.dl.head)
				trimDst++
				if lastTrim != cur {
					trimSrc, lastTrim = trimSrc+1, cur
				}
			}
		case len(f) == 1 && f[0] == "end":
			sawEnd = true
		default:
			parseErr = bad(fmt.Sprintf("unexpected %q", truncate(text, 40)))
		}
	}
	if line == 0 {
		return fmt.Errorf("state file %s: line 1: not a flowsift default-mode state (empty file); flow-dscan's text state loads with --compat", name)
	}
	if sum == "" {
		return fmt.Errorf("state file %s: truncated: no checksum line at the end (%d lines)", name, line)
	}
	if hex.EncodeToString(h.Sum(nil)) != sum {
		return fmt.Errorf("state file %s: checksum mismatch: the file was changed or damaged", name)
	}
	if parseErr != nil {
		return parseErr
	}
	if !sawEnd {
		return fmt.Errorf("state file %s: line %d: no end line", name, line)
	}
	// The LRU lists were written least recently seen first, per engine;
	// per partition that order is kept because sources are appended.
	e.total, e.parts = fresh.total, fresh.parts
	e.trimmedSrc, e.trimmedDst = trimSrc, trimDst
	for _, p := range e.parts {
		p.cfg = &e.cfg
	}
	return nil
}

// LoadTrimmed reports what the last LoadState dropped to keep every list
// within D: the sources whose lists were cut, and the destinations
// dropped (the least recently seen of each).
func (e *Engine) LoadTrimmed() (sources int, dests uint64) { return e.trimmedSrc, e.trimmedDst }

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
