package dscan

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/flowsift/flowsift/internal/names"
)

// Entry is one suppress-list line: "IP protocol srcport dstport", with "-"
// as a wildcard for the last three. In the default engine IP may be a CIDR
// prefix.
type Entry struct {
	Prefix           netip.Prefix
	Proto            int // -1 = any
	SrcPort, DstPort int // -1 = any
	Line             int
}

func (e Entry) matches(proto uint8, sp, dp uint16) bool {
	return (e.Proto < 0 || e.Proto == int(proto)) &&
		(e.SrcPort < 0 || e.SrcPort == int(sp)) &&
		(e.DstPort < 0 || e.DstPort == int(dp))
}

// List is one suppress file (.src or .dst).
type List struct {
	exact    map[netip.Addr][]Entry
	prefixes []Entry // entries shorter than a host prefix
	Entries  []Entry // in file order, for the compat engine
}

// Suppress is the pair of lists flow-dscan loads from BASE.src and BASE.dst.
type Suppress struct {
	Src, Dst *List
}

// ParseList reads a suppress file. Warnings are returned in flow-dscan's
// words, one string per warning, each ending with what flow-dscan prints
// after it (the offending line keeps its own newline, as in the real tool).
// which is "src" or "dst". With compat, only single IPv4 addresses are
// accepted and a repeated address is refused with a warning; otherwise CIDR
// prefixes and several entries per address are allowed.
func ParseList(r io.Reader, which string, compat bool) (*List, []string, error) {
	l, ws, err := parseList(r, which, compat)
	var warns []string
	for _, w := range ws {
		warns = append(warns, w.Text)
	}
	return l, warns, err
}

// Warning is one line of a suppress file the parser passed over.
type Warning struct {
	Line int    // 1-based line number
	Text string // flow-dscan's words, with the raw line as flow-dscan prints it
	Raw  string // the line as read, without its newline
}

func parseList(r io.Reader, which string, compat bool) (*List, []Warning, error) {
	l := &List{exact: map[netip.Addr][]Entry{}}
	br := bufio.NewReader(r)
	var warns warnList
	lineNo := 0
	for {
		raw, err := br.ReadString('\n')
		if raw == "" && err != nil {
			if err == io.EOF {
				break
			}
			return nil, warns, err
		}
		lineNo++
		f := strings.Fields(raw)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if len(f) < 4 {
			warns = warns.add(lineNo, raw, "suppress parser: syntax error: "+raw)
			continue
		}
		if f[0] == "-" {
			warns = warns.add(lineNo, raw, fmt.Sprintf("suppress parser: no %s ip wildcard", which))
			continue
		}
		e := Entry{Line: lineNo}
		if p, err := parsePrefix(f[0], compat); err == nil {
			e.Prefix = p
		} else {
			warns = warns.add(lineNo, raw, "suppress parser: syntax error: "+raw)
			continue
		}
		var bad bool
		e.Proto, bad = field(f[1], 255)
		e.SrcPort, bad = fieldOr(f[2], 65535, bad)
		e.DstPort, bad = fieldOr(f[3], 65535, bad)
		if bad {
			warns = warns.add(lineNo, raw, "suppress parser: syntax error: "+raw)
			continue
		}
		if e.Prefix.IsSingleIP() {
			if compat && len(l.exact[e.Prefix.Addr()]) > 0 {
				warns = warns.add(lineNo, raw, "suppress parser: dup ip: "+raw)
				continue
			}
			l.exact[e.Prefix.Addr()] = append(l.exact[e.Prefix.Addr()], e)
		} else {
			l.prefixes = append(l.prefixes, e)
		}
		l.Entries = append(l.Entries, e)
	}
	return l, warns, nil
}

type warnList []Warning

func (w warnList) add(line int, raw, text string) warnList {
	return append(w, Warning{Line: line, Text: text, Raw: strings.TrimRight(raw, "\r\n")})
}

func parsePrefix(s string, compat bool) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		if compat {
			return netip.Prefix{}, fmt.Errorf("prefix not accepted by flow-dscan")
		}
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if compat && !a.Is4() {
		return netip.Prefix{}, fmt.Errorf("not IPv4")
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func field(s string, maxv int) (int, bool) {
	if s == "-" {
		return -1, false
	}
	n, err := strconv.ParseUint(s, 0, 32)
	if err != nil || int(n) > maxv {
		return 0, true
	}
	return int(n), false
}

func fieldOr(s string, maxv int, bad bool) (int, bool) {
	v, b := field(s, maxv)
	return v, bad || b
}

// Match reports whether a flow whose listed address is a is suppressed
// (default engine: the protocol and port fields count).
func (l *List) Match(a netip.Addr, proto uint8, sp, dp uint16) bool {
	if l == nil {
		return false
	}
	for _, e := range l.exact[a] {
		if e.matches(proto, sp, dp) {
			return true
		}
	}
	for _, e := range l.prefixes {
		if e.Prefix.Contains(a) && e.matches(proto, sp, dp) {
			return true
		}
	}
	return false
}

// Len is the number of entries.
func (l *List) Len() int {
	if l == nil {
		return 0
	}
	return len(l.Entries)
}

// SuppressLog receives what LoadSuppress has to say; nil fields drop it.
// Line gets flow-dscan's "load_suppress N" line before each file, Warn
// the parser's warnings in flow-dscan's words (each ending with its
// newline), and Missing a file that could not be opened, outside compat
// mode, where the run goes on without it.
type SuppressLog struct {
	Line    func(text string)
	Warn    func(path, text string)
	Missing func(path string, err error)
	// Reject makes a line the parser would pass over an error naming the
	// file and line (flowsift report); flow-dscan, and the dscan command,
	// warn and go on.
	Reject bool
}

// LoadSuppress reads BASE.src and BASE.dst. flow-dscan refuses to start
// without them, and so does compat mode; the default engine goes on with
// an empty list.
func LoadSuppress(base string, compat bool, log SuppressLog) (*Suppress, error) {
	sup := &Suppress{}
	for i, which := range []string{"src", "dst"} {
		if log.Line != nil {
			log.Line(fmt.Sprintf("load_suppress %d", i))
		}
		path := base + "." + which
		f, err := os.Open(path)
		if err != nil {
			if compat {
				return nil, fmt.Errorf("suppress list: %w", err)
			}
			if log.Missing != nil {
				log.Missing(path, err)
			}
			continue
		}
		l, warns, err := parseList(f, which, compat)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		if log.Reject && len(warns) > 0 {
			w := warns[0]
			what, _, _ := strings.Cut(strings.TrimPrefix(w.Text, "suppress parser: "), ":")
			// The line is shown quoted: a suppress list of garbage must not
			// write raw bytes to a terminal or a log.
			more := ""
			if len(warns) > 1 {
				more = fmt.Sprintf(" (and %d more bad lines)", len(warns)-1)
			}
			return nil, fmt.Errorf("suppress list %s: line %d: %s: %s%s", names.Quote(path), w.Line, what, strconv.Quote(w.Raw), more)
		}
		for _, w := range warns {
			if log.Warn != nil {
				log.Warn(path, w.Text)
			}
		}
		if which == "src" {
			sup.Src = l
		} else {
			sup.Dst = l
		}
	}
	return sup, nil
}
