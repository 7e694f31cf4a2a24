// Package nfdump reads the CSV that `nfdump -o csv` prints: one header line
// of column names (ts,te,td,sa,da,sp,dp,pr,flg,...), one line per flow and,
// unless -q was given, a trailing "Summary" block, which is ignored.
//
// Times: nfdump prints ts and te in the local time zone of the machine that
// ran it, with whole seconds only (1.7.1), plus the duration td in seconds
// with milliseconds. Format.Loc says which zone the strings are in (nil =
// UTC; run `TZ=UTC nfdump ...` to match). Because ts and te are truncated
// to the second, the exact milliseconds are not in the file; the reader
// keeps the duration exact and places the flow as early as both printed
// seconds allow: Start = max(ts, te - td), End = Start + td. Both then lie
// in the seconds nfdump printed. Raw flow-tools fields are synthesised with
// SetUptimeFromTimes so flow-tools-oriented code sees the same instants.
//
// Counters: ipkt/ibyt become Packets/Octets; opkt/obyt (bidirectional NSEL
// records) are not added. Exporter is ra, Nexthop nh, engine type/id come
// from eng ("type/id").
package nfdump

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/flowsift/flowsift/flow"
)

// Format is the nfdump CSV driver for package ingest.
type Format struct {
	Strict bool           // the first bad row is fatal
	Loc    *time.Location // zone of ts/te; nil = UTC
}

// Name implements ingest.Format.
func (Format) Name() string { return "nfdump-csv" }

// Sniff implements ingest.Format: the header line nfdump prints starts with
// the start/end/duration/address columns.
func (Format) Sniff(head []byte, _ string) bool {
	return strings.HasPrefix(strings.TrimPrefix(string(head), flow.BOM), "ts,te,td,sa,da,")
}

// fieldsSet is what an nfdump CSV row gives a record; the raw time fields
// are included because SetUptimeFromTimes makes them consistent with
// Start/End, so a CSV writer keeps the times.
const fieldsSet = flow.FUnixSecs | flow.FUnixNsecs | flow.FSysUptime | flow.FFirst | flow.FLast |
	flow.FSrcAddr | flow.FDstAddr | flow.FSrcPort | flow.FDstPort | flow.FProt | flow.FTCPFlags |
	flow.FDPkts | flow.FDOctets | flow.FTos | flow.FInput | flow.FOutput | flow.FSrcAS | flow.FDstAS |
	flow.FSrcMask | flow.FDstMask | flow.FNexthop | flow.FExaddr | flow.FEngineType | flow.FEngineID

type setter func(r *flow.Record, s string, st *rowTimes) error

type rowTimes struct {
	ts, te, td int64
}

func parseTime(loc *time.Location) func(s string) (int64, error) {
	return func(s string) (int64, error) {
		s = strings.TrimSpace(s)
		layout := "2006-01-02 15:04:05"
		if strings.IndexByte(s, '.') > 0 {
			layout = "2006-01-02 15:04:05.000"
		}
		t, err := time.ParseInLocation(layout, s, loc)
		if err != nil {
			return 0, fmt.Errorf("not a time: %q", s)
		}
		return t.UnixMilli(), nil
	}
}

func num(s string, bits int) (uint64, error) {
	v, err := strconv.ParseUint(strings.TrimSpace(s), 10, bits)
	if err != nil {
		return 0, fmt.Errorf("not an unsigned %d-bit number: %q", bits, s)
	}
	return v, nil
}

func addr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return a, fmt.Errorf("not an IP address: %q", s)
	}
	return a, nil
}

func uintSet(bits int, dst func(r *flow.Record, v uint64)) setter {
	return func(r *flow.Record, s string, _ *rowTimes) error {
		v, err := num(s, bits)
		if err == nil {
			dst(r, v)
		}
		return err
	}
}

func addrSet(dst func(r *flow.Record, a netip.Addr)) setter {
	return func(r *flow.Record, s string, _ *rowTimes) error {
		a, err := addr(s)
		if err == nil {
			dst(r, a)
		}
		return err
	}
}

// parseFlags reads nfdump's flag string: eight positions CEUAPRSF with "."
// for a clear bit (older versions may print a hex number "0x1b").
func parseFlags(s string) (uint8, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "0x") {
		v, err := strconv.ParseUint(s[2:], 16, 8)
		if err != nil {
			return 0, fmt.Errorf("bad TCP flags %q", s)
		}
		return uint8(v), nil
	}
	if len(s) != 8 {
		return 0, fmt.Errorf("bad TCP flags %q", s)
	}
	var f uint8
	for i := 0; i < 8; i++ {
		if s[i] != '.' {
			f |= 1 << (7 - i)
		}
	}
	return f, nil
}

func parseProto(s string) (uint8, error) {
	s = strings.TrimSpace(s)
	if p, ok := protoNames[s]; ok {
		return p, nil
	}
	v, err := strconv.ParseUint(s, 10, 8)
	if err != nil {
		return 0, fmt.Errorf("unknown protocol %q", s)
	}
	return uint8(v), nil
}

func setters(loc *time.Location) map[string]setter {
	pt := parseTime(loc)
	return map[string]setter{
		"ts": func(_ *flow.Record, s string, t *rowTimes) (err error) { t.ts, err = pt(s); return },
		"te": func(_ *flow.Record, s string, t *rowTimes) (err error) { t.te, err = pt(s); return },
		"td": func(_ *flow.Record, s string, t *rowTimes) error {
			d, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil || d < 0 {
				return fmt.Errorf("not a duration: %q", s)
			}
			t.td = int64(d*1000 + 0.5)
			return nil
		},
		"sa":   addrSet(func(r *flow.Record, a netip.Addr) { r.Src = a }),
		"da":   addrSet(func(r *flow.Record, a netip.Addr) { r.Dst = a }),
		"nh":   addrSet(func(r *flow.Record, a netip.Addr) { r.Nexthop = a }),
		"ra":   addrSet(func(r *flow.Record, a netip.Addr) { r.Exporter = a }),
		"sp":   uintSet(16, func(r *flow.Record, v uint64) { r.SrcPort = uint16(v) }),
		"dp":   uintSet(16, func(r *flow.Record, v uint64) { r.DstPort = uint16(v) }),
		"pr":   func(r *flow.Record, s string, _ *rowTimes) (err error) { r.Proto, err = parseProto(s); return },
		"flg":  func(r *flow.Record, s string, _ *rowTimes) (err error) { r.TCPFlags, err = parseFlags(s); return },
		"stos": uintSet(8, func(r *flow.Record, v uint64) { r.ToS = uint8(v) }),
		"ipkt": uintSet(64, func(r *flow.Record, v uint64) { r.Packets = v }),
		"ibyt": uintSet(64, func(r *flow.Record, v uint64) { r.Octets = v }),
		"in":   uintSet(32, func(r *flow.Record, v uint64) { r.Input = uint32(v) }),
		"out":  uintSet(32, func(r *flow.Record, v uint64) { r.Output = uint32(v) }),
		"sas":  uintSet(32, func(r *flow.Record, v uint64) { r.SrcAS = uint32(v) }),
		"das":  uintSet(32, func(r *flow.Record, v uint64) { r.DstAS = uint32(v) }),
		"smk":  uintSet(8, func(r *flow.Record, v uint64) { r.SrcMask = uint8(v) }),
		"dmk":  uintSet(8, func(r *flow.Record, v uint64) { r.DstMask = uint8(v) }),
		"eng": func(r *flow.Record, s string, _ *rowTimes) error {
			a, b, ok := strings.Cut(strings.TrimSpace(s), "/")
			if !ok {
				return fmt.Errorf("bad engine %q", s)
			}
			t, err1 := num(a, 8)
			id, err2 := num(b, 8)
			if err1 != nil || err2 != nil {
				return fmt.Errorf("bad engine %q", s)
			}
			r.EngineType, r.EngineID = uint8(t), uint8(id)
			return nil
		},
	}
}

// required columns: without them a row is not a flow.
var required = []string{"ts", "te", "td", "sa", "da", "sp", "dp", "pr", "ipkt", "ibyt"}

// Decode implements ingest.Format.
func (f Format) Decode(path string, r io.Reader, emit func(flow.Batch) error, skip func(flow.Skip)) error {
	loc := f.Loc
	if loc == nil {
		loc = time.UTC
	}
	br := bufio.NewReaderSize(r, 256*1024)
	if b, _ := br.Peek(len(flow.BOM)); string(b) == flow.BOM {
		br.Discard(len(flow.BOM))
	}
	first, err := br.ReadString('\n')
	if first == "" && err != nil {
		if err != io.EOF {
			return fmt.Errorf("read %s: %w", path, err)
		}
		return fmt.Errorf("read %s: empty file, no nfdump CSV header line", path)
	}
	names := strings.Split(strings.TrimRight(first, "\r\n"), ",")
	all := setters(loc)
	cols := make([]setter, len(names))
	have := map[string]bool{}
	for i, n := range names {
		n = strings.TrimSpace(n)
		cols[i] = all[n] // nil: a column flowsift has no field for
		have[n] = true
	}
	for _, n := range required {
		if !have[n] {
			return fmt.Errorf("read %s: line 1: not nfdump CSV: no %q column", path, n)
		}
	}
	batch := make(flow.Batch, 0, 4096)
	bad := flow.BadRows{Path: path, Skip: skip}
	line := int64(1)
	fields := make([]string, 0, len(names))
	for {
		s, err := br.ReadString('\n')
		if err != nil && err != io.EOF {
			// The stream broke (an I/O error): the rows before it stay
			// read, the partial line with the break goes with the rest.
			if f.Strict {
				return fmt.Errorf("read %s: line %d: %w", path, line+1, err)
			}
			bad.Flush()
			skip(flow.BrokenTail(path, line+1, err))
			break
		}
		if s == "" {
			break
		}
		line++
		if !strings.HasSuffix(s, "\n") {
			bad.Flush()
			skip(flow.Unterminated(path, line, s))
			break
		}
		s = strings.TrimRight(s, "\r\n")
		if s == "Summary" {
			break // nfdump's totals follow; they are not flows
		}
		if s == "" {
			continue
		}
		fields = append(fields[:0], strings.Split(s, ",")...)
		var rec flow.Record
		var rt rowTimes
		var perr error
		if len(fields) != len(cols) {
			perr = fmt.Errorf("%d columns, the header names %d", len(fields), len(cols))
		} else {
			for i, set := range cols {
				if set == nil {
					continue
				}
				if err := set(&rec, fields[i], &rt); err != nil {
					perr = fmt.Errorf("column %d (%s): %w", i+1, strings.TrimSpace(names[i]), err)
					break
				}
			}
		}
		if perr == nil && rt.te < rt.ts {
			perr = fmt.Errorf("end %s before start", fields[1])
		}
		if perr != nil {
			if f.Strict {
				return fmt.Errorf("read %s: line %d: %w", path, line, perr)
			}
			bad.Add(line, perr.Error())
			continue
		}
		rec.Start = max(rt.ts, rt.te-rt.td)
		rec.End = rec.Start + rt.td
		rec.SetUptimeFromTimes()
		rec.Fields = fieldsSet
		batch = append(batch, rec)
		if len(batch) == cap(batch) {
			if err := emit(batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	bad.Flush()
	if len(batch) > 0 {
		return emit(batch)
	}
	return nil
}
