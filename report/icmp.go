package report

import (
	"strconv"
	"strings"
)

// ICMP type and code names as ping, tcpdump and iptables print them
// (RFC 792 and the IANA registries for ICMP, RFC 4443 for ICMPv6).
var (
	icmp4Types = map[uint8]string{0: "echo-reply", 3: "dest-unreach", 4: "source-quench", 5: "redirect", 8: "echo-request",
		9: "router-advert", 10: "router-solicit", 11: "time-exceeded", 12: "param-problem", 13: "timestamp-request",
		14: "timestamp-reply", 15: "info-request", 16: "info-reply", 17: "mask-request", 18: "mask-reply"}
	icmp4Codes = map[uint8]map[uint8]string{
		3: {0: "net-unreach", 1: "host-unreach", 2: "proto-unreach", 3: "port-unreach", 4: "frag-needed", 5: "src-route-failed",
			6: "net-unknown", 7: "host-unknown", 9: "net-prohibited", 10: "host-prohibited", 11: "net-tos-unreach",
			12: "host-tos-unreach", 13: "admin-prohibited"},
		5:  {0: "net-redirect", 1: "host-redirect", 2: "tos-net-redirect", 3: "tos-host-redirect"},
		11: {0: "ttl-exceeded", 1: "frag-reassembly"},
	}
	icmp6Types = map[uint8]string{1: "dest-unreach", 2: "packet-too-big", 3: "time-exceeded", 4: "param-problem",
		128: "echo-request", 129: "echo-reply", 130: "mld-query", 131: "mld-report", 132: "mld-done",
		133: "router-solicit", 134: "router-advert", 135: "neighbor-solicit", 136: "neighbor-advert", 137: "redirect"}
	icmp6Codes = map[uint8]map[uint8]string{
		1: {0: "no-route", 1: "admin-prohibited", 2: "beyond-scope", 3: "addr-unreach", 4: "port-unreach"},
		3: {0: "hop-limit-exceeded", 1: "frag-reassembly"},
	}
)

// ICMPName names the type and code carried in an ICMP (proto 1) or
// ICMPv6 (proto 58) flow's destination port: "echo-request",
// "dest-unreach/port-unreach"; a code without a name is given as a
// number ("dest-unreach/code-14"), an unknown type as "type-42/code-1".
func ICMPName(proto uint8, port uint16) string {
	typ, code := uint8(port>>8), uint8(port)
	types, codes := icmp4Types, icmp4Codes
	if proto == 58 {
		types, codes = icmp6Types, icmp6Codes
	}
	name, ok := types[typ]
	if !ok {
		return "type-" + strconv.Itoa(int(typ)) + "/code-" + strconv.Itoa(int(code))
	}
	if c, ok := codes[typ][code]; ok {
		return name + "/" + c
	}
	if code == 0 {
		return name
	}
	return name + "/code-" + strconv.Itoa(int(code))
}

// portNames names what a port row counts when its number holds flows of
// every protocol (a most scanned port, a top-talker port, as nfdump counts
// them): "" when no ICMP flow is among them, else the ICMP and ICMPv6
// types its number stands for, and how many of the row's flows they are
// when other protocols share the number ("icmp/echo-request (256 of 300
// flows)").
func portNames(port uint16, flows, icmp4, icmp6 uint64) string {
	var parts []string
	if icmp4 > 0 {
		parts = append(parts, portName(1, port))
	}
	if icmp6 > 0 {
		parts = append(parts, portName(58, port))
	}
	name := strings.Join(parts, " + ")
	if name != "" && icmp4+icmp6 < flows {
		name += " (" + Commas(icmp4+icmp6) + " of " + Commas(flows) + " flows)"
	}
	return name
}

// portLabel is a port row's key for people: the ICMP name alone when
// every flow under the number was ICMP, the number followed by the name
// when some were, else the number.
func portLabel(num, name string, flows, icmp uint64) string {
	switch {
	case name == "":
		return num
	case icmp >= flows:
		return name
	}
	return num + ", " + name
}
