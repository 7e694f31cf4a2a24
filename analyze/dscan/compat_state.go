package dscan

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"

	"github.com/flowsift/flowsift/flow"
)

// SaveState writes the table in flow-dscan 0.68's text format: buckets in
// increasing order, chain order inside a bucket; "H bucket depth flags src",
// "I  seen dst" per destination, "P n ports..." after a destination with
// ports, and a final ".".
func (c *Compat) SaveState(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	for b := 0; b < nBuckets; b++ {
		for p := c.buckets[b]; p != nil; p = p.next {
			fmt.Fprintf(bw, "H %d %d %d %s\n", b, p.depth, p.flags, flow.AddrFromU32(p.ip))
			for _, d := range p.dsts {
				fmt.Fprintf(bw, "I  %d %s\n", d.seen, flow.AddrFromU32(d.ip))
				if d.ports != nil && d.ports.n > 0 {
					bw.WriteString("P " + strconv.Itoa(d.ports.n))
					for _, port := range d.ports.list() {
						bw.WriteString(" " + strconv.Itoa(int(port)))
					}
					bw.WriteString("\n")
				}
			}
		}
	}
	bw.WriteString(".\n")
	return bw.Flush()
}

// LoadState reads flow-dscan's text state as 0.68 does: each record goes
// to the head of the bucket named in the file (so a dump after a load lists
// a bucket's records in reverse order), and "seen" values are kept while
// this run counts flows from 0 again. name is used in error messages.
func (c *Compat) LoadState(r io.Reader, name string) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), maxStateLine)
	var rec *crec
	line := 0
	bad := func(format string, a ...any) error {
		return fmt.Errorf("state file %s: line %d: %s", name, line, fmt.Sprintf(format, a...))
	}
	for sc.Scan() {
		line++
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			return bad("empty line")
		}
		switch f[0] {
		case ".":
			return nil
		case "H":
			if len(f) != 5 {
				return bad("want H bucket depth flags ip")
			}
			b, e1 := strconv.ParseUint(f[1], 10, 16)
			depth, e2 := strconv.ParseUint(f[2], 10, 8)
			flags, e3 := strconv.ParseUint(f[3], 10, 8)
			ip, e4 := netip.ParseAddr(f[4])
			if e1 != nil || e2 != nil || e3 != nil || e4 != nil || !ip.Is4() {
				return bad("bad source record %q", sc.Text())
			}
			rec = &crec{ip: flow.AddrU32(ip), depth: uint8(depth), flags: uint8(flags), next: c.buckets[b]}
			c.buckets[b] = rec
		case "I":
			if rec == nil || len(f) != 3 {
				return bad("destination line outside a source record or malformed")
			}
			seen, e1 := strconv.ParseUint(f[1], 10, 32)
			ip, e2 := netip.ParseAddr(f[2])
			if e1 != nil || e2 != nil || !ip.Is4() {
				return bad("bad destination record %q", sc.Text())
			}
			rec.dsts = append(rec.dsts, cdst{ip: flow.AddrU32(ip), seen: uint32(seen)})
		case "P":
			if rec == nil || len(rec.dsts) == 0 || len(f) < 2 {
				return bad("port line without a destination")
			}
			n, err := strconv.Atoi(f[1])
			if err != nil || n != len(f)-2 {
				return bad("port count %q does not match the ports listed", f[1])
			}
			ps := &portSet{}
			for _, s := range f[2:] {
				p, err := strconv.ParseUint(s, 10, 16)
				if err != nil || p >= 1024 {
					return bad("bad port %q", s)
				}
				ps.add(uint16(p))
			}
			rec.dsts[len(rec.dsts)-1].ports = ps
		default:
			return bad("unknown record type %q", f[0])
		}
	}
	if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
		return fmt.Errorf("state file %s: line %d: longer than %d bytes: not a state line (damaged file?)", name, line+1, maxStateLine)
	} else if err != nil {
		return fmt.Errorf("state file %s: line %d: %w", name, line+1, err)
	}
	return fmt.Errorf("state file %s: truncated after line %d (no final \".\")", name, line)
}
