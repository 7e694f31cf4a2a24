package nfcapd

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteText describes a file as `nfdump -I` does: a few lines on the file
// header (layout, compression, blocks, appendix; the lines newer nfdump
// releases print), then the ident and the statistics record exactly in
// nfdump 1.7.1's words. A file without statistics (a capture still open)
// says so instead.
func (h *Header) WriteText(w io.Writer, path string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "File       : %s\n", path)
	fmt.Fprintf(&b, "Version    : %d - %s\n", h.Layout, CompressionName(h.Compression))
	if h.Layout == layoutV2 {
		fmt.Fprintf(&b, "nfdump     : %s (%#08x)\n", h.VersionString(), h.NfdVersion)
		if c := h.CreatedTime(); !c.IsZero() {
			fmt.Fprintf(&b, "Created    : %s\n", c.Format(time.DateTime+" MST"))
		}
		fmt.Fprintf(&b, "Encryption : none\n")
		fmt.Fprintf(&b, "Appendix   : %d blocks at position: %d\n", h.AppendixBlocks, h.OffAppendix)
	} else {
		fmt.Fprintf(&b, "Anonymized : %v\n", h.Anonymized)
	}
	fmt.Fprintf(&b, "Blocks     : %d\n", h.NumBlocks)
	if h.Stat == nil {
		b.WriteString("No statistics: the file has no appendix (capture still open, or killed)\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	s := h.Stat
	ident := h.Ident
	if ident == "" {
		// nfdump keeps no ident for an empty one and prints C's "(null)".
		ident = "(null)"
	}
	fmt.Fprintf(&b, "Ident: %s\n", ident)
	for _, l := range []struct {
		k string
		v uint64
	}{
		{"Flows", s.Flows}, {"Flows_tcp", s.FlowsTCP}, {"Flows_udp", s.FlowsUDP}, {"Flows_icmp", s.FlowsICMP}, {"Flows_other", s.FlowsOther},
		{"Packets", s.Packets}, {"Packets_tcp", s.PacketsTCP}, {"Packets_udp", s.PacketsUDP}, {"Packets_icmp", s.PacketsICMP}, {"Packets_other", s.PacketsOther},
		{"Bytes", s.Bytes}, {"Bytes_tcp", s.BytesTCP}, {"Bytes_udp", s.BytesUDP}, {"Bytes_icmp", s.BytesICMP}, {"Bytes_other", s.BytesOther},
		{"First", s.FirstSeen / 1000}, {"Last", s.LastSeen / 1000}, {"msec_first", s.FirstSeen % 1000}, {"msec_last", s.LastSeen % 1000},
		{"Sequence failures", s.SequenceFailures},
	} {
		fmt.Fprintf(&b, "%s: %d\n", l.k, l.v)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
