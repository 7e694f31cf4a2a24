package ingest

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// nfcapdName matches the files nfcapd (and sfcapd, nfpcapd) rotate:
// nfcapd.YYYYMMDDhhmm, with seconds when the rotation is under a minute.
// nfcapd names them in the local time of the collector, without a zone.
var nfcapdName = regexp.MustCompile(`^nfcapd\.(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?$`)

// ParseNfcapdName parses an nfcapd file name (base name only): the start
// of the rotation period the file holds, taken as local time (time.Local)
// as nfcapd wrote it.
func ParseNfcapdName(name string) (time.Time, bool) {
	m := nfcapdName.FindStringSubmatch(name)
	if m == nil {
		return time.Time{}, false
	}
	num := func(s string) int { n, _ := strconv.Atoi(s); return n }
	t := time.Date(num(m[1]), time.Month(num(m[2])), num(m[3]), num(m[4]), num(m[5]), num(m[6]), 0, time.Local)
	if num(m[4]) > 23 || num(m[5]) > 59 || num(m[6]) > 59 || t.Month() != time.Month(num(m[2])) || t.Day() != num(m[3]) {
		return time.Time{}, false
	}
	return t, true
}

// nfcapdInProgress reports the file nfcapd is still writing
// (nfcapd.current.PID): like flow-capture's tmp- files, a capture in
// progress or killed.
func nfcapdInProgress(name string) bool { return strings.HasPrefix(name, "nfcapd.current.") }

// nfstatName is the per-directory statistics file nfcapd keeps with -e/-l
// bookkeeping: not flows.
const nfstatName = ".nfstat"

// fileStarter is implemented by formats whose capture start is not in the
// first bytes of a file: nfdump keeps its statistics, with the first flow's
// start, in an appendix at the end.
type fileStarter interface {
	CaptureStartFile(path string) (time.Time, bool)
}

func fileTime(fm Format, path string) time.Time {
	if fs, ok := fm.(fileStarter); ok {
		if t, ok := fs.CaptureStartFile(path); ok {
			return t
		}
	}
	return time.Time{}
}
