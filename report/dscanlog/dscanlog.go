// Package dscanlog prints dscan engine events as flow-dscan 0.68 prints
// them, so that scripts and eyes used to its output keep working.
package dscanlog

import (
	"fmt"
	"io"
	"time"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/analyze/dscan"
)

// Prefix starts every flow-dscan line.
const Prefix = "flow-dscan: "

// DumpHeader is printed once per run before the first flow dump.
const DumpHeader = "Start             End                Sif SrcIPaddress      SrcP  DIf DstIPaddress      DstP   P Fl       Pkts     Octets"

// Writer formats events. Lines go to Out (one Write per line, so a syslog
// writer gets one message per line); Loc is the zone of the time fields
// (flow-dscan uses local time).
type Writer struct {
	Out        io.Writer
	Loc        *time.Location
	dumpHeader bool
}

// Line writes one line with the flow-dscan prefix.
func (w *Writer) Line(s string) error {
	_, err := io.WriteString(w.Out, Prefix+s+"\n")
	return err
}

// Stamp renders an instant in ms as flow-dscan's MMDD.HH:MM:SS.mmm field:
// milliseconds left-justified in three columns without zero padding, then a
// space. (0.68 on 64-bit systems prints a garbage date here; this is the
// correct one.)
func Stamp(ms uint64, loc *time.Location) string {
	t := time.Unix(int64(ms/1000), 0).In(loc)
	return fmt.Sprintf("%02d%02d.%02d:%02d:%02d.%-3d ", int(t.Month()), t.Day(), t.Hour(), t.Minute(), t.Second(), ms%1000)
}

// Event prints one engine event.
func (w *Writer) Event(ev dscan.Event) error {
	loc := w.Loc
	if loc == nil {
		loc = time.Local
	}
	if ev.Kind == dscan.EvAgerReset {
		return w.Line("ager: reset hash run")
	}
	f := ev.Finding
	r := &f.Flow
	start := r.FTStartMS()
	switch f.Kind {
	case analyze.HostScan:
		return w.Line(fmt.Sprintf("host scan: ip=%s ts=%d start=%s", f.Src, start/1000, Stamp(start, loc)))
	case analyze.PortScan:
		return w.Line(fmt.Sprintf("port scan: src=%s dst=%s ts=%d start=%s", f.Src, f.Dst, start/1000, Stamp(start, loc)))
	case analyze.ExcessiveOctets, analyze.ExcessivePkts, analyze.ExcessiveTime:
		if !w.dumpHeader {
			w.dumpHeader = true
			if err := w.Line(DumpHeader); err != nil {
				return err
			}
		}
		if err := w.Line(Stamp(start, loc)); err != nil {
			return err
		}
		if err := w.Line(Stamp(r.FTEndMS(), loc)); err != nil {
			return err
		}
		return w.Line(fmt.Sprintf("%4d %-15s %6d %4d %-15s %6d %3d %2d %10d %10d",
			r.Input, r.Src, r.SrcPort, r.Output, r.Dst, r.DstPort, r.Proto, r.TCPFlags&7, r.Packets, r.Octets))
	}
	return nil
}
