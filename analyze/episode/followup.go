package episode

import (
	"fmt"
	"strings"
	"time"
)

// followUp builds commands that pull an episode's flows from the archive:
// all flows from the source between its first and last seen (whole seconds,
// widened outwards).
//
// flow-nfilter (flow-tools 0.68): an ip-address primitive matched with
// src-ip-addr, and a time-date primitive matched with start-time that
// denies flows starting before or after the window (a time-date primitive
// returns the mode of the first line whose comparison holds, else its
// default). time-date values go through get_date(), which reads
// "YYYY-MM-DD HH:MM:SS UTC". flow-tools holds IPv4 only, so an IPv6 source
// gets no flow-tools command.
//
// nfdump: -t takes local time, so the command sets TZ=UTC; -R applies to an
// nfdump archive (a flow-tools tree must be converted first, e.g. with
// ft2nfdump).
func followUp(cfg Config, ep Episode) FollowUp {
	startS := floorDiv(ep.First, 1000)
	endS := floorDiv(ep.Last+999, 1000)
	start := time.Unix(startS, 0).UTC()
	end := time.Unix(endS, 0).UTC()
	name := "scan-" + strings.NewReplacer(".", "-", ":", "-").Replace(ep.Src.String()) + "-" + start.Format("20060102T150405")
	var fu FollowUp
	fu.FilterName = name
	archive := shellQuote(cfg.Archive)
	if ep.Src.Unmap().Is4() {
		src := ep.Src.Unmap()
		fu.FilterFile = fmt.Sprintf(`filter-primitive %[1]s-src
  type ip-address
  permit %[2]s

filter-primitive %[1]s-time
  type time-date
  deny lt %[3]s UTC
  deny gt %[4]s UTC
  default permit

filter-definition %[1]s
  match src-ip-addr %[1]s-src
  match start-time %[1]s-time
`, name, src, start.Format("2006-01-02 15:04:05"), end.Format("2006-01-02 15:04:05"))
		fu.FlowTools = fmt.Sprintf("flow-cat %s | flow-nfilter -f %s.nfilter -F %s | flow-print", archive, name, name)
	}
	fu.Nfdump = fmt.Sprintf("TZ=UTC nfdump -R %s -t %s-%s 'src ip %s'", archive,
		start.Format("2006/01/02.15:04:05"), end.Format("2006/01/02.15:04:05"), ep.Src.Unmap())
	return fu
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// shellQuote quotes a path for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+:,@%=", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
