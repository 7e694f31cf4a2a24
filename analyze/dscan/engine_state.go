package dscan

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
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

// LoadState reads a state SaveState wrote, replacing the table and the
// flow index. Any damage (bad checksum, truncation, a malformed line) is
// an error naming the line; nothing is loaded then.
func (e *Engine) LoadState(r io.Reader, name string) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("state file %s: %w", name, err)
	}
	if !bytes.HasPrefix(data, []byte(stateMagic+"\n")) {
		first, _, _ := bytes.Cut(data, []byte("\n"))
		return fmt.Errorf("state file %s: line 1: not a flowsift default-mode state (%q); flow-dscan's text state loads with --compat", name, truncate(string(first), 40))
	}
	body, tail, ok := lastLine(data)
	if !ok || !strings.HasPrefix(tail, "sha256 ") {
		return fmt.Errorf("state file %s: truncated: no checksum line at the end (%d bytes)", name, len(data))
	}
	sum := sha256.Sum256(body)
	if hex.EncodeToString(sum[:]) != strings.TrimPrefix(tail, "sha256 ") {
		return fmt.Errorf("state file %s: checksum mismatch: the file was changed or damaged", name)
	}
	fresh := New(e.cfg, e.onEvent)
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	line := 0
	var cur *source
	var curPart *part
	bad := func(msg string) error { return fmt.Errorf("state file %s: line %d: %s", name, line, msg) }
	sawEnd := false
	for sc.Scan() {
		line++
		f := strings.Fields(sc.Text())
		switch {
		case line == 1:
		case len(f) == 2 && f[0] == "total":
			n, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				return bad("bad total")
			}
			fresh.total = n
		case len(f) == 4 && f[0] == "S":
			a, err1 := netip.ParseAddr(f[1])
			flags, err2 := strconv.ParseUint(f[2], 10, 8)
			last, err3 := strconv.ParseUint(f[3], 10, 64)
			if err1 != nil || err2 != nil || err3 != nil || last > fresh.total {
				return bad("bad source line")
			}
			curPart = fresh.parts[partOf(a)]
			if curPart.getSrc(a) != nil {
				return bad("source listed twice")
			}
			cur = &source{addr: a, flags: uint8(flags), lastSeen: last}
			curPart.putSrc(cur)
			curPart.lru.pushBack(cur)
		case (len(f) == 3 || len(f) == 4) && f[0] == "D":
			if cur == nil {
				return bad("destination before any source")
			}
			a, err1 := netip.ParseAddr(f[1])
			seen, err2 := strconv.ParseUint(f[2], 10, 64)
			if err1 != nil || err2 != nil || seen > cur.lastSeen {
				return bad("bad destination line")
			}
			d := &dest{addr: a, seen: seen}
			if len(f) == 4 {
				d.ports = &portSet{}
				for _, ps := range strings.Split(f[3], ",") {
					p, err := strconv.ParseUint(ps, 10, 16)
					if err != nil || p >= 1024 {
						return bad("bad port list")
					}
					d.ports.add(uint16(p))
				}
			}
			if curPart.getDst(cur, a) != nil {
				return bad("destination listed twice")
			}
			if cur.dl.tail != nil && seen < cur.dl.tail.seen {
				return bad("destinations out of order")
			}
			curPart.putDst(cur, d)
		case len(f) == 1 && f[0] == "end":
			sawEnd = true
		default:
			return bad(fmt.Sprintf("unexpected %q", truncate(sc.Text(), 40)))
		}
	}
	if !sawEnd {
		return fmt.Errorf("state file %s: line %d: no end line", name, line)
	}
	// The LRU lists were written least recently seen first, per engine;
	// per partition that order is kept because sources are appended.
	e.total, e.parts = fresh.total, fresh.parts
	for _, p := range e.parts {
		p.cfg = &e.cfg
	}
	return nil
}

func lastLine(data []byte) (body []byte, last string, ok bool) {
	d := bytes.TrimSuffix(data, []byte("\n"))
	i := bytes.LastIndexByte(d, '\n')
	if i < 0 {
		return nil, "", false
	}
	return data[:i+1], string(d[i+1:]), true
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
