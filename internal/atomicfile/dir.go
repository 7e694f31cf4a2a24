package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// A Dir is an output directory whose files change together: a report's
// HTML, Markdown, JSON and CSV tables. Each run writes its files into a
// set directory of its own, DIR/.flowsift/set-PID-RANDOM, and publishes it
// with one rename of the symbolic link DIR/current. The names users know
// (DIR/report.html, DIR/csv/...) are links into DIR/current, made once, so
// a reader sees all of one set or all of the other, never a mix.
//
// DIR/.flowsift/lock is held (flock) from OpenDir to Close: a second run
// on the same directory fails at once with ErrBusy instead of
// interleaving with the first.
type Dir struct {
	Path      string
	meta      string
	lock      *os.File
	stage     string
	created   []string // directories OpenDir made, outermost last
	published bool
}

// Names inside a Dir.
const (
	DirMeta    = ".flowsift"
	DirCurrent = "current"
	setPrefix  = "set-"
)

// ErrBusy: another process holds the directory's lock.
var ErrBusy = errors.New("another flowsift run is writing this directory")

// OpenDir makes the directory if needed, takes its lock and removes what
// earlier runs left: sets of killed runs, and sets replaced since.
func OpenDir(path string) (*Dir, error) {
	d := &Dir{Path: path, meta: filepath.Join(path, DirMeta)}
	// A run that fails before publishing leaves no directory it made.
	for p := d.meta; ; p = filepath.Dir(p) {
		if _, err := os.Lstat(p); err == nil || p == filepath.Dir(p) {
			break
		}
		d.created = append(d.created, p)
	}
	if err := os.MkdirAll(d.meta, 0o755); err != nil {
		d.removeCreated()
		return nil, err
	}
	lock, err := os.OpenFile(filepath.Join(d.meta, "lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		d.removeCreated()
		return nil, err
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (%s is locked)", ErrBusy, lock.Name())
		}
		return nil, fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	d.lock = lock
	if len(d.created) > 0 {
		// Made for this run: a signal before the first publish removes it.
		if _, err := create(func() (string, error) { return d.created[len(d.created)-1], nil }); err != nil {
			d.Close()
			return nil, err
		}
	}
	d.sweep()
	Sweep(path)
	sweepLegacy(path)
	sweepLegacy(filepath.Join(path, "csv"))
	return d, nil
}

// legacyTemp matches the temporary names of flowsift before sets and
// pids (".report.html.tmp-123456789"), which a killed run left and no
// later run removed.
var legacyTemp = regexp.MustCompile(`^\.(report\.(html|md|json)|[a-z_]+\.csv)\.tmp-[0-9]+$`)

// legacyAge is how old such a file must be to be taken as stale: nothing
// tells whether its writer still runs, but no report takes this long to
// write its files.
const legacyAge = 10 * time.Minute

func sweepLegacy(dir string) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if !legacyTemp.MatchString(e.Name()) {
			continue
		}
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > legacyAge {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// current is the set DIR/current points to ("" when none).
func (d *Dir) current() string {
	t, err := os.Readlink(filepath.Join(d.Path, DirCurrent))
	if err != nil {
		return ""
	}
	return filepath.Base(t)
}

// sweep removes every set but the published one. Only the lock holder
// writes sets, so the others are those of killed runs or replaced ones.
func (d *Dir) sweep() {
	cur := d.current()
	ents, _ := os.ReadDir(d.meta)
	for _, e := range ents {
		if n := e.Name(); strings.HasPrefix(n, setPrefix) && n != cur && filepath.Join(d.meta, n) != d.stage {
			os.RemoveAll(filepath.Join(d.meta, n))
		}
	}
}

// Stage makes the set directory the run writes its files into.
func (d *Dir) Stage() (string, error) {
	s, err := tempDir(d.meta, fmt.Sprintf("%s%d-*", setPrefix, os.Getpid()))
	if err != nil {
		return "", err
	}
	d.stage = s
	return s, nil
}

// Publish makes the staged set current with one rename, then makes sure
// each of names (top-level entries of the set, such as "report.html" or
// "csv") is reachable as DIR/name, a link to current/name. A regular file
// or directory of an older flowsift in the way of a link is replaced.
// Links of ours whose target the new set lacks are removed.
func (d *Dir) Publish(names []string) error {
	if d.stage == "" {
		return errors.New("nothing staged")
	}
	publishing.Lock()
	defer publishing.Unlock()
	syncDir(d.stage)
	target := filepath.Join(DirMeta, filepath.Base(d.stage))
	if err := d.link(DirCurrent, target); err != nil {
		return err
	}
	Forget(d.stage)
	if len(d.created) > 0 {
		Forget(d.created[len(d.created)-1])
	}
	d.stage, d.published = "", true
	syncDir(d.Path)
	for _, n := range names {
		if err := d.ensureLink(n); err != nil {
			return err
		}
	}
	d.dropDangling()
	d.sweep()
	syncDir(d.Path)
	return nil
}

// link points DIR/name at target through a temporary link and a rename.
func (d *Dir) link(name, target string) error {
	tmp := filepath.Join(d.Path, "."+name+Tag+fmt.Sprint(os.Getpid())+"-link")
	_, err := create(func() (string, error) {
		os.Remove(tmp)
		return tmp, os.Symlink(target, tmp)
	})
	if err != nil {
		return err
	}
	if err := Rename(tmp, filepath.Join(d.Path, name)); err != nil {
		Remove(tmp)
		return err
	}
	return nil
}

func (d *Dir) ensureLink(name string) error {
	p := filepath.Join(d.Path, name)
	want := filepath.Join(DirCurrent, name)
	if t, err := os.Readlink(p); err == nil && t == want {
		return nil
	}
	if st, err := os.Lstat(p); err == nil && st.IsDir() {
		// A directory of an older flowsift (csv/): rename cannot replace a
		// directory with a link, so it moves aside first.
		old := filepath.Join(d.meta, setPrefix+"old-"+name)
		os.RemoveAll(old)
		if err := os.Rename(p, old); err != nil {
			return err
		}
	}
	return d.link(name, want)
}

// dropDangling removes the links into current/ that the new set does not
// fill (a format written before and not this time).
func (d *Dir) dropDangling() {
	ents, _ := os.ReadDir(d.Path)
	for _, e := range ents {
		p := filepath.Join(d.Path, e.Name())
		t, err := os.Readlink(p)
		if err != nil || !strings.HasPrefix(t, DirCurrent+string(filepath.Separator)) {
			continue
		}
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			os.Remove(p)
		}
	}
}

// Close removes an unpublished set and releases the lock.
func (d *Dir) Close() {
	if d.stage != "" {
		Remove(d.stage)
		d.stage = ""
	}
	if d.lock != nil {
		if !d.published && len(d.created) > 0 {
			os.Remove(d.lock.Name())
		}
		d.lock.Close()
		d.lock = nil
	}
	if !d.published {
		d.removeCreated()
	}
}

// removeCreated removes the directories OpenDir made, if still empty.
func (d *Dir) removeCreated() {
	for _, p := range d.created {
		os.Remove(p)
	}
	if len(d.created) > 0 {
		Forget(d.created[len(d.created)-1])
	}
	d.created = nil
}

// syncDir makes a directory's entries durable; errors are ignored, as not
// every file system syncs directories.
func syncDir(path string) {
	if f, err := os.Open(path); err == nil {
		f.Sync()
		f.Close()
	}
}
