package ftfile

import (
	"fmt"
	"io"
	"strings"
	"time"
)

var aggNames = [...]string{"", "AS", "Protocol Port", "Source Prefix", "Destination Prefix", "Prefix",
	"Destination", "Source Destination", "Full Flow", "ToS AS", "ToS Proto Port", "ToS Source Prefix",
	"ToS Destination Prefix", "ToS Prefix", "ToS Prefix Port"}

// WriteText prints the header as flow-tools' flow-header does (dates in
// time.Local, which follows TZ).
func (h *Header) WriteText(w io.Writer) error {
	var b strings.Builder
	line := func(label, format string, a ...any) {
		fmt.Fprintf(&b, "# %-22s%s\n", label+":", fmt.Sprintf(format, a...))
	}
	b.WriteString("#\n")
	streaming := h.Flags&FlagStreaming != 0
	final := h.Flags&(FlagDone|FlagPreloaded) != 0
	if streaming {
		line("mode", "streaming")
	} else {
		line("mode", "normal")
	}
	// flow-header hides the hostname of streams although the TLV is there.
	if !streaming && h.Hostname != "" {
		line("capture hostname", "%s", h.Hostname)
	}
	stamp := func(s uint32) string { return time.Unix(int64(s), 0).In(time.Local).Format(time.RFC1123Z) }
	// A stream's capture fields mean nothing unless preloaded (flow-tag
	// writes a zero CAP_START into its stream).
	capInfo := !streaming || h.Flags&FlagPreloaded != 0
	if h.Has(tlvCapStart) && capInfo {
		line("capture start", "%s", stamp(h.CapStart))
	}
	if h.Has(tlvCapEnd) && final && capInfo {
		line("capture end", "%s", stamp(h.CapEnd))
		if h.Has(tlvCapStart) {
			line("capture period", "%d seconds", int64(h.CapEnd)-int64(h.CapStart))
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
	line("export version", "%d", h.ExportVersion)
	if h.ExportVersion == 8 {
		line("export agg_version", "%d", h.AggVersion)
		name := ""
		if int(h.AggMethod) < len(aggNames) {
			name = aggNames[h.AggMethod]
		}
		line("export agg_method", "%d (%s)", h.AggMethod, name)
	}
	if h.Has(tlvFlowLost) {
		line("lost flows", "%d", h.FlowLost)
	}
	if h.Has(tlvPktCorrupt) {
		line("corrupt packets", "%d", h.PktCorrupt)
	}
	if h.Has(tlvSeqReset) {
		line("sequencer resets", "%d", h.SeqReset)
	}
	if h.Has(tlvFlowCount) && final {
		line("capture flows", "%d", h.FlowCount)
	}
	if h.Comments != "" {
		line("comments", "%s", h.Comments)
	}
	if !h.Complete() {
		b.WriteString("# note, incomplete flow file\n")
	}
	b.WriteString("#\n")
	_, err := io.WriteString(w, b.String())
	return err
}
