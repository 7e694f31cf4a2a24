package ftfile

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/flowsift/flowsift/flow"
)

var aggNames = [...]string{"", "AS", "Protocol Port", "Source Prefix", "Destination Prefix", "Prefix",
	"Destination", "Source Destination", "Full Flow", "ToS AS", "ToS Proto Port", "ToS Source Prefix",
	"ToS Destination Prefix", "ToS Prefix", "ToS Prefix Port"}

// WriteText prints the header as flow-tools 0.68's flow-header does on a
// little-endian host, line for line. Dates are in time.Local (flow-header
// uses the TZ of the process), formatted like strftime "%a, %d %b %Y
// %H:%M:%S %z".
func (h *Header) WriteText(w io.Writer) error {
	var b strings.Builder
	line := func(label, format string, a ...any) {
		fmt.Fprintf(&b, "# %-22s%s\n", label+":", fmt.Sprintf(format, a...))
	}
	stamp := func(s uint32) string { return time.Unix(int64(s), 0).In(time.Local).Format(time.RFC1123Z) }
	streaming := h.Flags&FlagStreaming != 0
	// Capture times and counters of a stream mean nothing unless they were
	// preloaded from the inputs (flow-tag even writes a zero CAP_START).
	hideCapture := streaming && h.Flags&FlagPreloaded == 0
	final := h.Flags&(FlagDone|FlagPreloaded) != 0

	b.WriteString("#\n")
	if streaming {
		line("mode", "streaming")
	} else {
		line("mode", "normal")
	}
	// flow-tools ORs XLATE into a big-endian v1 header's flags before
	// swapping them, so the mark lands in another bit and is not shown.
	if h.Flags&FlagXlate != 0 && !(h.StreamVersion == 1 && h.BigEndian) {
		line("translated", "yes")
	}
	// A stream's hostname is hidden although the TLV is there.
	if !streaming && h.Has(tlvCapHostname) {
		line("capture hostname", "%s", h.Hostname)
	}
	if !streaming && h.Has(tlvExporterIP) {
		line("exporter IP address", "%s", flow.AddrFromU32(h.ExporterIP))
	}
	if !hideCapture && h.Has(tlvCapStart) {
		line("capture start", "%s", stamp(h.CapStart))
	}
	if !hideCapture && final {
		if h.Has(tlvCapEnd) {
			line("capture end", "%s", stamp(h.CapEnd))
			if h.Has(tlvCapStart) {
				line("capture period", "%d seconds", h.CapEnd-h.CapStart) // u32 arithmetic, as flow-header
			}
		}
	}
	if h.Flags&FlagCompress != 0 {
		line("compress", "on")
	} else {
		line("compress", "off")
	}
	if h.BigEndian {
		line("byte order", "big")
	} else {
		line("byte order", "little")
	}
	line("stream version", "%d", h.StreamVersion)
	if h.Has(tlvExVer) {
		line("export version", "%d", h.ExportVersion)
		if h.Has(tlvAggMethod) && h.ExportVersion == 8 {
			if h.Has(tlvAggVer) {
				line("export agg_version", "%d", int8(h.AggVersion))
			}
			name := "Unknown"
			if h.AggMethod > 0 && int(h.AggMethod) < len(aggNames) {
				name = aggNames[h.AggMethod]
			}
			// flow-header prints the method through a signed char.
			line("export agg_method", "%d (%s)", int8(h.AggMethod), name)
		}
	}
	if !hideCapture {
		if h.Has(tlvFlowLost) {
			line("lost flows", "%d", h.FlowLost)
		}
		if h.Has(tlvFlowMisordered) {
			line("misordered flows", "%d", h.FlowMisordered)
		}
		if h.Has(tlvPktCorrupt) {
			line("corrupt packets", "%d", h.PktCorrupt)
		}
		if h.Has(tlvSeqReset) {
			line("sequencer resets", "%d", h.SeqReset)
		}
	}
	if h.Has(tlvComments) {
		line("comments", "%s", h.Comments)
	}
	if !hideCapture {
		if final {
			if h.Has(tlvFlowCount) {
				line("capture flows", "%d", h.FlowCount)
			}
		} else {
			b.WriteString("# note, incomplete flow file\n")
		}
	}
	// flow-tools keeps these lists newest first. For byte-swapped files it
	// swaps the 16-bit ifIndex (and alias count) as 32-bit values, which
	// leaves 0 on a little-endian host.
	if h.Has(tlvIfName) {
		b.WriteString("#\n")
		for i := len(h.IfNames) - 1; i >= 0; i-- {
			n := h.IfNames[i]
			idx := int(n.IfIndex)
			if h.BigEndian {
				idx = 0
			}
			fmt.Fprintf(&b, "# ifname %s %d %s\n", flow.AddrFromU32(n.Exporter), idx, n.Name)
		}
	}
	if h.Has(tlvIfAlias) {
		b.WriteString("#\n")
		for i := len(h.IfAliases) - 1; i >= 0; i-- {
			a := h.IfAliases[i]
			fmt.Fprintf(&b, "# ifalias %s ", flow.AddrFromU32(a.Exporter))
			if h.BigEndian {
				b.WriteString(a.swappedName + "\n")
				continue
			}
			for _, x := range a.IfIndex {
				fmt.Fprintf(&b, "%d ", x)
			}
			b.WriteString(a.Name + "\n")
		}
	}
	b.WriteString("#\n")
	_, err := io.WriteString(w, b.String())
	return err
}
