package episode

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// suggest decides whether a source whose findings look like service replies
// should be proposed for the .src suppress list. Rules, all required:
//   - the source's flows were accounted (not evidence-only);
//   - no scan signs: TCP flows without ACK (SYN-only, SYN+RST, FIN/NULL/XMAS
//     probes: a connection that completed carries ACK in its flow's
//     cumulative flags) are at most ScanShare of its TCP flows;
//   - at least ServiceShare of its flows are service replies (UDP, or TCP
//     with ACK, from a port below 1024 to a port at or above 1024);
//   - it answered at least MinPeers distinct destinations;
//   - at least one (protocol, source port) sent MinPeers service replies
//     or more: a port with fewer replies cannot have answered that many
//     peers, so it is no service ("answering many clients from a
//     well-known source port"). A web server that also answered a port
//     scan sent one RST from each probed port to one peer; those ports
//     must neither be the entry nor widen it to the whole protocol.
func suggest(cfg Config, src netip.Addr, flows, tcp, noAck, svcN uint64, peers int,
	svc map[portKey]uint64, partial bool, eps []Episode) (Suggestion, bool) {
	if flows == 0 || partial {
		return Suggestion{}, false
	}
	var noAckRate float64
	if tcp > 0 {
		noAckRate = float64(noAck) / float64(tcp)
	}
	if noAckRate > cfg.ScanShare {
		return Suggestion{}, false
	}
	svcRate := float64(svcN) / float64(flows)
	if svcRate < cfg.ServiceShare || peers < cfg.MinPeers {
		return Suggestion{}, false
	}

	// The entry: among the service ports, the dominant (protocol, source
	// port) if it carries ServiceShare of their replies, else the protocol
	// alone if there is one, else the whole host. flow-dscan takes one line
	// per address.
	keys := make([]portKey, 0, len(svc))
	protos := map[uint8]bool{}
	var served, strayFlows uint64 // replies from service ports, from the others
	strayPorts := 0
	for k, n := range svc {
		if n < uint64(cfg.MinPeers) {
			strayFlows += n
			strayPorts++
			continue
		}
		keys = append(keys, k)
		protos[k.proto()] = true
		served += n
	}
	if len(keys) == 0 {
		return Suggestion{}, false
	}
	slices.SortFunc(keys, func(x, y portKey) int {
		if c := cmp.Compare(svc[y], svc[x]); c != 0 {
			return c
		}
		return cmp.Compare(x, y)
	})
	sg := Suggestion{Addr: src, File: "src", Proto: -1, SrcPort: -1, DstPort: -1,
		Peers: peers, Flows: flows, ServiceRate: svcRate, NoAckRate: noAckRate}
	top := keys[0]
	if float64(svc[top]) >= cfg.ServiceShare*float64(served) {
		sg.Proto, sg.SrcPort = int(top.proto()), int(top.port())
	} else if len(protos) == 1 {
		sg.Proto = int(top.proto())
	}
	sg.Line = fmt.Sprintf("%s %s %s %s", src, field(sg.Proto), field(sg.SrcPort), field(sg.DstPort))

	var from []string
	for i, k := range keys {
		if i == 3 {
			from = append(from, "...")
			break
		}
		from = append(from, fmt.Sprintf("%s/%d (%d flows)", ProtoName(k.proto()), k.port(), svc[k]))
	}
	if strayPorts > 0 {
		from = append(from, fmt.Sprintf("and %s from %s (fewer than %d each: not counted as service)",
			plural(strayFlows, "reply", "replies"), plural(uint64(strayPorts), "other port", "other ports"), cfg.MinPeers))
	}
	var fired []string
	for _, ep := range eps {
		for _, r := range ep.Rules {
			fired = append(fired, fmt.Sprintf("%s %s %q threshold %g value %g", r.Detector, r.Kind, r.Rule, r.Threshold, r.Value))
		}
	}
	slices.Sort(fired)
	fired = slices.Compact(fired)
	first, last := eps[0].First, eps[0].Last
	for _, ep := range eps {
		first, last = min(first, ep.First), max(last, ep.Last)
	}
	lines := []string{
		fmt.Sprintf("# %s looks like a server, not a scanner: answered %d peers from %s;", src, peers, strings.Join(from, ", ")),
		fmt.Sprintf("# %d of %d flows are replies from a well-known port (%.0f%%), %d of %d TCP flows without ACK; %s to %s;",
			svcN, flows, 100*svcRate, noAck, tcp, utc(first), utc(last)),
		"# fired: " + strings.Join(fired, "; "),
	}
	if sg.Proto >= 0 || sg.SrcPort >= 0 {
		lines = append(lines, "# note: flow-dscan 0.68 (and flowsift --compat) ignores the protocol and port fields: the entry silences all of this host's traffic")
	}
	sg.Comment = strings.Join(lines, "\n")
	return sg, true
}

func field(v int) string {
	if v < 0 {
		return "-"
	}
	return fmt.Sprint(v)
}

// plural writes n and the noun in the number n needs.
func plural(n uint64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
