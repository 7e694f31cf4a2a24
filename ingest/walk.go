package ingest

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/flowsift/flowsift/flow"
)

// Input is one thing to decode: a file found on the command line or in a
// tree, or standard input.
type Input struct {
	Path    string
	Format  Format
	Time    time.Time // capture start from the name (zero when unknown)
	Partial bool      // a tmp- file (capture still open or killed)
	Stdin   bool
	// Stream is set for a path that is not a regular file (a named pipe,
	// a process substitution such as <(flow-cat ...), a device): it can be
	// read once only, so the bytes sniffed for its format are kept and it
	// is read in stream order like standard input.
	Stream bool
	stream io.Reader
	closer io.Closer
	order  int // position in the final file order
	arg    int // index of the path it was found under
}

// captureName matches flow-capture's file names; the UTC offset is optional
// because older releases and other tools wrote names without it.
var captureName = regexp.MustCompile(`^(ft|tmp)-v(\d{2,})(?:m(\d{2}))?\.(\d{4})-(\d{2})-(\d{2})\.(\d{2})(\d{2})(\d{2})(?:([+-])(\d{2})(\d{2}))?$`)

// ParseCaptureName parses a flow-capture file name (base name only). The
// time is the file's creation instant; without an offset in the name it is
// taken as local time (time.Local).
func ParseCaptureName(name string) (t time.Time, version string, partial bool, ok bool) {
	m := captureName.FindStringSubmatch(name)
	if m == nil {
		return time.Time{}, "", false, false
	}
	num := func(s string) int { n, _ := strconv.Atoi(s); return n }
	loc := time.Local
	if m[10] != "" {
		off := (num(m[11])*60 + num(m[12])) * 60
		if m[10] == "-" {
			off = -off
		}
		loc = time.FixedZone(m[10]+m[11]+m[12], off)
	}
	t = time.Date(num(m[4]), time.Month(num(m[5])), num(m[6]), num(m[7]), num(m[8]), num(m[9]), 0, loc)
	if t.Month() != time.Month(num(m[5])) || t.Day() != num(m[6]) { // 2026-02-31 and the like
		return time.Time{}, "", false, false
	}
	version = m[2]
	if m[3] != "" {
		version += "m" + m[3]
	}
	return t, version, m[1] == "tmp", true
}

// defaultPeriod is flow-capture's default rotation (95 rotations a day):
// the assumed span of the last file of a tree when selecting by --from/--to.
const defaultPeriod = 15 * time.Minute

// Walk expands paths into the ordered list of inputs Run reads, and the
// files it passed over. Order: command-line order between arguments; inside
// a directory argument, files by capture start (the time in the name; files
// without one after them, by path). Directory entries whose name starts with
// "tmp" are skipped unless IncludePartial (as flow-cat does); a tmp- file
// named explicitly on the command line is read, also as flow-cat does. Dot
// files and dot directories in trees are ignored, each listed once in the
// summary as "hidden" (which does not make the run partial). With From/To, a file named T is
// taken to cover [T, T'), T' being the next file's time in the same directory
// argument (T + 15 minutes for the last), and is kept when that interval
// overlaps [From, To).
func Walk(paths []string, opt Options) ([]Input, []flow.Skip, error) {
	var out []Input
	var skips []flow.Skip
	for arg, p := range paths {
		if p == "-" {
			out = append(out, Input{Path: "-", Stdin: true, arg: arg})
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			return nil, nil, fmt.Errorf("input %s: %w", p, err)
		}
		if !st.IsDir() && !st.Mode().IsRegular() {
			in, skip := classifyStream(p, opt)
			if skip != nil {
				skips = append(skips, *skip)
			} else {
				in.arg = arg
				out = append(out, in)
			}
			continue
		}
		if !st.IsDir() {
			in, skip := classify(p, true, opt)
			if skip != nil {
				skips = append(skips, *skip)
				continue
			}
			if inWindow([]Input{in}, 0, opt) {
				in.arg = arg
				out = append(out, in)
			} else {
				skips = append(skips, flow.Skip{Path: p, Offset: -1, Reason: "outside-window", Detail: "file time outside --from/--to", Fatal: true, Count: 1})
			}
			continue
		}
		var found []Input
		// A trailing separator makes WalkDir follow a root that is a
		// symbolic link (/flows -> /data/flows is common).
		root := p
		if !strings.HasSuffix(root, string(os.PathSeparator)) {
			root += string(os.PathSeparator)
		}
		err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				skips = append(skips, flow.Skip{Path: path, Offset: -1, Reason: "unreadable", Detail: err.Error(), Fatal: true, Count: 1})
				if d != nil && d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			name := d.Name()
			if path != root && strings.HasPrefix(name, ".") {
				if d.IsDir() {
					skips = append(skips, flow.Skip{Path: path, Offset: -1, Reason: "hidden", Detail: "dot directory ignored", Count: 1})
					return fs.SkipDir
				}
				detail := "dot file ignored"
				if name == nfstatName {
					detail = "nfcapd's directory statistics (.nfstat), not flows"
				}
				skips = append(skips, flow.Skip{Path: path, Offset: -1, Reason: "hidden", Detail: detail, Fatal: true, Count: 1})
				return nil
			}
			if d.IsDir() {
				return nil
			}
			// Nothing in the tree is passed over unsaid: a dangling link is
			// an input that cannot be read; a link to a directory is not
			// followed (no cycles) and a pipe or device inside a tree is not
			// an archive file, and both are listed.
			if d.Type()&fs.ModeSymlink != 0 {
				st, err := os.Stat(path)
				switch {
				case err != nil:
					skips = append(skips, flow.Skip{Path: path, Offset: -1, Reason: "unreadable", Detail: err.Error(), Fatal: true, Count: 1})
					return nil
				case st.IsDir():
					skips = append(skips, flow.Skip{Path: path, Offset: -1, Reason: "not-followed", Detail: "link to a directory inside the tree (give it as a path to read it)", Count: 1})
					return nil
				case !st.Mode().IsRegular():
					skips = append(skips, flow.Skip{Path: path, Offset: -1, Reason: "not-a-file", Detail: "link to a " + st.Mode().Type().String() + " inside the tree (give it as a path to read it)", Count: 1})
					return nil
				}
			} else if !d.Type().IsRegular() {
				skips = append(skips, flow.Skip{Path: path, Offset: -1, Reason: "not-a-file", Detail: "pipe, socket or device inside the tree (give it as a path to read it)", Count: 1})
				return nil
			}
			if strings.HasPrefix(name, "tmp") && !opt.IncludePartial {
				skips = append(skips, flow.Skip{Path: path, Offset: -1, Reason: "partial-file",
					Detail: "capture file still open or killed (tmp- name); --include-partial reads it", Fatal: true, Count: 1})
				return nil
			}
			if nfcapdInProgress(name) && !opt.IncludePartial {
				skips = append(skips, flow.Skip{Path: path, Offset: -1, Reason: "partial-file",
					Detail: "nfcapd capture still open or killed (nfcapd.current.*); --include-partial reads it", Fatal: true, Count: 1})
				return nil
			}
			in, skip := classify(path, false, opt)
			if skip != nil {
				skips = append(skips, *skip)
				return nil
			}
			found = append(found, in)
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("walk %s: %w", p, err)
		}
		for i := range found {
			found[i].arg = arg
		}
		sort.SliceStable(found, func(i, j int) bool {
			a, b := found[i], found[j]
			if a.Time.IsZero() != b.Time.IsZero() {
				return !a.Time.IsZero()
			}
			if !a.Time.Equal(b.Time) {
				return a.Time.Before(b.Time)
			}
			return a.Path < b.Path
		})
		for i := range found {
			if inWindow(found, i, opt) {
				out = append(out, found[i])
			} else {
				skips = append(skips, flow.Skip{Path: found[i].Path, Offset: -1, Reason: "outside-window", Detail: "file time outside --from/--to", Fatal: true, Count: 1})
			}
		}
	}
	for i := range out {
		out[i].order = i
	}
	return out, skips, nil
}

// inWindow applies --from/--to to files[i]: it is kept when the flows it
// can hold, ending in [T - ExportDelay, T'), may end in [From, To). Files
// without a time are kept.
func inWindow(files []Input, i int, opt Options) bool {
	if opt.From.IsZero() && opt.To.IsZero() {
		return true
	}
	t := files[i].Time
	if t.IsZero() {
		return true
	}
	end := t.Add(defaultPeriod)
	if i+1 < len(files) && !files[i+1].Time.IsZero() && files[i+1].Time.After(t) {
		end = files[i+1].Time
	}
	// The file's flows end in [t - ExportDelay, end).
	if !opt.To.IsZero() && !t.Add(-opt.exportDelay()).Before(opt.To) {
		return false
	}
	if !opt.From.IsZero() && !end.After(opt.From) {
		return false
	}
	return true
}

// classify sniffs a file's format and reads the time from its name.
func classify(path string, explicit bool, opt Options) (Input, *flow.Skip) {
	in := Input{Path: path}
	if t, _, partial, ok := ParseCaptureName(filepath.Base(path)); ok {
		in.Time, in.Partial = t, partial
	} else if t, ok := ParseNfcapdName(filepath.Base(path)); ok {
		in.Time = t
	} else if nfcapdInProgress(filepath.Base(path)) {
		in.Partial = true
	}
	f, err := os.Open(path)
	if err != nil {
		return in, &flow.Skip{Path: path, Offset: -1, Reason: "unreadable", Detail: err.Error(), Fatal: true, Count: 1}
	}
	defer f.Close()
	head := make([]byte, 512)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return in, &flow.Skip{Path: path, Offset: -1, Reason: "unreadable", Detail: err.Error(), Fatal: true, Count: 1}
	}
	head = head[:n]
	if n == 0 {
		return in, &flow.Skip{Path: path, Offset: 0, Reason: "empty", Detail: "empty file, no header", Fatal: true, Count: 1}
	}
	for _, fm := range formats(opt) {
		if fm.Sniff(head, path) {
			in.Format = fm
			if in.Time.IsZero() {
				in.Time = headerTime(fm, head)
			}
			if in.Time.IsZero() {
				in.Time = fileTime(fm, path)
			}
			return in, nil
		}
	}
	_ = explicit
	return in, &flow.Skip{Path: path, Offset: 0, Reason: "unknown-format",
		Detail: fmt.Sprintf("not a flow file this program reads (starts with % x)", head[:min(8, len(head))]), Fatal: true, Count: 1}
}

// classifyStream sniffs a path that can be read only once and keeps it
// open, with the sniffed bytes put back in front of the rest.
func classifyStream(path string, opt Options) (Input, *flow.Skip) {
	in := Input{Path: path, Stream: true}
	f, err := os.Open(path)
	if err != nil {
		return in, &flow.Skip{Path: path, Offset: -1, Reason: "unreadable", Detail: err.Error(), Fatal: true, Count: 1}
	}
	head := make([]byte, 512)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		f.Close()
		return in, &flow.Skip{Path: path, Offset: -1, Reason: "unreadable", Detail: err.Error(), Fatal: true, Count: 1}
	}
	head = head[:n]
	if n == 0 {
		f.Close()
		return in, &flow.Skip{Path: path, Offset: 0, Reason: "empty", Detail: "empty stream, no header", Fatal: true, Count: 1}
	}
	for _, fm := range formats(opt) {
		if fm.Sniff(head, path) {
			in.Format, in.stream, in.closer = fm, io.MultiReader(bytes.NewReader(head), f), f
			return in, nil
		}
	}
	f.Close()
	return in, &flow.Skip{Path: path, Offset: 0, Reason: "unknown-format",
		Detail: fmt.Sprintf("not a flow stream this program reads (starts with % x)", head[:min(8, len(head))]), Fatal: true, Count: 1}
}

// capStarter is implemented by formats that can read a capture start from
// the first bytes of a file (flow-tools' CAP_START).
type capStarter interface {
	CaptureStart(head []byte) (time.Time, bool)
}

func headerTime(fm Format, head []byte) time.Time {
	if cs, ok := fm.(capStarter); ok {
		if t, ok := cs.CaptureStart(bytes.Clone(head)); ok {
			return t
		}
	}
	return time.Time{}
}
