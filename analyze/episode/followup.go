package episode

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Archive is one input path as it was read: the formats ingest found
// under it (Format.Name: "flow-tools", "nfcapd", "parquet",
// "flow-export-csv", "nfdump-csv") and whether it is a directory. The
// follow-up commands are those of the tools that read such files.
type Archive struct {
	Path    string
	Formats []string
	Dir     bool
	// Stream: standard input or a pipe, read once; there is nothing to
	// run a command on again.
	Stream bool
}

// followUp builds the commands for the accountant's Config.Archive, whose
// kind is not known: the flow-tools and the nfdump form.
func followUp(cfg Config, ep Episode) FollowUp {
	return FollowUpFor([]Archive{{Path: cfg.Archive, Formats: []string{"flow-tools", "nfcapd"}, Dir: true}}, ep)
}

// FollowUpFor builds commands that pull an episode's flows from the
// archives it was read from: all flows from the source between its first
// and last seen (whole seconds, widened outwards), one command for each
// kind of input, so that every line runs as it stands.
//
// flow-tools trees and files: flow-cat | flow-nfilter | flow-print. The
// flow-nfilter definition (flow-tools 0.68) is an ip-address primitive
// matched with src-ip-addr, and a time-date primitive matched with
// start-time that denies flows starting before or after the window (a
// time-date primitive returns the mode of the first line whose comparison
// holds, else its default). time-date values go through get_date(), which
// reads "YYYY-MM-DD HH:MM:SS UTC". flow-tools holds IPv4 only, so an IPv6
// source gets no flow-tools command.
//
// nfcapd files: nfdump -R for a directory, -r for a file (one command a
// path); -t takes local time, so the command sets TZ=UTC.
//
// Parquet, flow-export CSV and nfdump CSV, which neither tool reads:
// flowsift convert of the window to CSV, and awk keeping the header and
// the source's rows (the srcaddr column is found by its name, as the
// columns are the union of the inputs' fields).
func FollowUpFor(archives []Archive, ep Episode) FollowUp {
	startS := floorDiv(ep.First, 1000)
	endS := floorDiv(ep.Last+999, 1000)
	start := time.Unix(startS, 0).UTC()
	end := time.Unix(endS, 0).UTC()
	name := "scan-" + strings.NewReplacer(".", "-", ":", "-").Replace(ep.Src.String()) + "-" + start.Format("20060102T150405")
	src := ep.Src.Unmap()
	var ft, conv []string
	var nf []string
	for _, a := range archives {
		if a.Stream || a.Path == "-" {
			continue
		}
		q := shellQuote(a.Path)
		for _, f := range a.Formats {
			switch f {
			case "flow-tools":
				ft = append(ft, q)
			case "nfcapd":
				opt := "-r"
				if a.Dir {
					opt = "-R"
				}
				nf = append(nf, fmt.Sprintf("TZ=UTC nfdump %s %s -t %s-%s 'src ip %s'", opt, q,
					start.Format("2006/01/02.15:04:05"), end.Format("2006/01/02.15:04:05"), src))
			default:
				if !slices.Contains(conv, q) {
					conv = append(conv, q)
				}
			}
		}
	}
	fu := FollowUp{FilterName: name}
	if len(ft) > 0 && src.Is4() {
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
		fu.FlowTools = fmt.Sprintf("flow-cat %s | flow-nfilter -f %s.nfilter -F %s | flow-print", strings.Join(ft, " "), name, name)
	}
	fu.Nfdump = strings.Join(nf, "\n")
	if len(conv) > 0 {
		// --until is exclusive: one second past the last end keeps a flow
		// that ended on it.
		fu.Flowsift = fmt.Sprintf(`flowsift convert --to csv --from %s --until %s %s - | awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "srcaddr") c = i; print; next } $c == "%s"'`,
			start.Format(time.RFC3339), end.Add(time.Second).Format(time.RFC3339), strings.Join(conv, " "), src)
	}
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
