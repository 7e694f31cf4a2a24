package samples

import (
	"bytes"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/ingest/ftfile"
)

func readTree(t *testing.T, dir string) (files map[string][]byte, flows int) {
	t.Helper()
	files = map[string][]byte{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, p)
		files[rel] = b
		rd, err := ftfile.NewReader(bytes.NewReader(b), p, ftfile.Options{})
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]flow.Record, 100000)
		n, err := rd.Read(buf)
		if err != nil && err != io.EOF {
			t.Fatal(err)
		}
		if uint32(n) != rd.Header().FlowCount || len(rd.Skips()) > 0 {
			t.Fatalf("%s: %d flows, header says %d", rel, n, rd.Header().FlowCount)
		}
		for i := 1; i < n; i++ {
			if buf[i].End < buf[i-1].End {
				t.Fatalf("%s: not sorted by end time at record %d", rel, i)
			}
		}
		// The name is the period the file was written in.
		tm := time.Unix(int64(rd.Header().CapStart), 0).UTC()
		if filepath.Base(p) != "ft-v05."+tm.Format("2006-01-02.150405-0700") {
			t.Fatalf("%s: name does not match capture start %v", rel, tm)
		}
		flows += n
		return nil
	})
	return files, flows
}

func TestTreeDeterministicAndReadable(t *testing.T) {
	cfg := Config{Seed: 7, Flows: 20000, Hours: 2}
	d1, d2 := t.TempDir(), t.TempDir()
	t1, err := WriteTree(d1, cfg)
	if err != nil {
		t.Fatal(err)
	}
	WriteTree(d2, cfg)
	f1, n := readTree(t, d1)
	f2, _ := readTree(t, d2)
	if n != 20000 || len(f1) < 8 || len(f1) > 9 || len(f1) != len(f2) {
		t.Fatalf("%d flows in %d files", n, len(f1))
	}
	for k, v := range f1 {
		if !bytes.Equal(v, f2[k]) {
			t.Fatalf("%s differs between two runs with the same seed", k)
		}
	}
	b, _ := MarshalTruth(t1)
	var ids []string
	for _, e := range t1.Events {
		ids = append(ids, e.ID)
		if e.Scanner && (e.Flows == 0 || e.Src == "") {
			t.Errorf("event %s has no flows", e.ID)
		}
	}
	if len(t1.Events) < 12 || !bytes.Contains(b, []byte(`"kind": "slow-scan"`)) || !bytes.Contains(b, []byte(`"kind": "small-scan"`)) {
		t.Fatalf("events %v", ids)
	}
	other, _ := WriteTree(t.TempDir(), Config{Seed: 8, Flows: 20000, Hours: 2})
	if o, _ := MarshalTruth(other); bytes.Equal(o, b) {
		t.Fatal("another seed gave the same truth")
	}
}

// The checked-in sample archive is exactly what its generator makes, so
// it can never drift from the code (regenerate with the command in
// samples/README.md).
func TestCheckedInArchiveIsReproducible(t *testing.T) {
	truth, err := ReadTruth("archive.truth.json")
	if err != nil {
		t.Fatal(err)
	}
	start, _ := time.Parse(time.RFC3339, truth.Start)
	dir := t.TempDir()
	got, err := WriteTree(dir, Config{Seed: truth.Seed, Flows: truth.Flows, Start: start, Hours: truth.Hours})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile("archive.truth.json")
	if b, _ := MarshalTruth(got); !bytes.Equal(b, want) {
		t.Fatal("archive.truth.json differs from what the generator makes")
	}
	fresh, _ := readTree(t, dir)
	stored, n := readTree(t, "archive")
	if len(fresh) != len(stored) || n != truth.Flows {
		t.Fatalf("%d files vs %d stored, %d flows vs %d", len(fresh), len(stored), n, truth.Flows)
	}
	for k, v := range fresh {
		if !bytes.Equal(v, stored[k]) {
			t.Fatalf("archive/%s differs from what the generator makes", k)
		}
	}
}

func BenchmarkWriteTree1M(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := WriteTree(b.TempDir(), Config{Seed: 1, Flows: 1_000_000, Hours: 24}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(1_000_000*b.N)/b.Elapsed().Seconds(), "flows/s")
}

// Every injected event's flows are in the generated set, from its source,
// inside its time span, with at least its documented targets; scans are
// short SYN-only or SYN+RST TCP flows or small UDP probes.
func TestEventsPresent(t *testing.T) {
	recs, truth, err := Generate(Config{Seed: 5, Flows: 30000, Hours: 3}.Defaults())
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 30000 {
		t.Fatalf("%d flows", len(recs))
	}
	for _, e := range truth.Events {
		if e.Flows == 0 {
			continue
		}
		src := netip.MustParseAddr(e.Src)
		st, _ := time.Parse("2006-01-02T15:04:05.000Z", e.Start)
		en, _ := time.Parse("2006-01-02T15:04:05.000Z", e.End)
		n := 0
		dsts := map[netip.Addr]bool{}
		for _, r := range recs {
			// Replies (RSTs, answers) count as the event's flows too.
			if (r.Src != src && r.Dst != src) || r.Start < st.UnixMilli() || r.Start > en.UnixMilli() {
				continue
			}
			if e.Proto != 0 && r.Proto != e.Proto {
				continue
			}
			n++
			if r.Src == src {
				dsts[r.Dst] = true
				probe := e.Kind == "host-scan" || e.Kind == "port-scan" || e.Kind == "slow-scan" || e.Kind == "small-scan"
				if probe && r.Proto == 6 && (r.TCPFlags&^0x04 != 0x02 || r.Packets > 2) {
					t.Errorf("%s (%s): probe with flags %#x, %d packets", e.ID, e.Kind, r.TCPFlags, r.Packets)
				}
			}
		}
		if n < e.Flows {
			t.Errorf("%s (%s): %d flows of %s in its span, truth says %d", e.ID, e.Kind, n, e.Src, e.Flows)
		}
		if e.Targets > 0 && e.Kind != "port-scan" && len(dsts) < e.Targets {
			t.Errorf("%s (%s): %d distinct targets, truth says %d", e.ID, e.Kind, len(dsts), e.Targets)
		}
	}
	b, _ := MarshalTruth(truth)
	p := filepath.Join(t.TempDir(), "t.json")
	os.WriteFile(p, b, 0o644)
	back, err := ReadTruth(p)
	if err != nil || !reflect.DeepEqual(back, truth) {
		t.Fatalf("truth JSON round trip: %v", err)
	}
}

// Config.Partial leaves the last period as a killed capture: tmp- name,
// incomplete header, and a cut stream whose whole records still read.
func TestPartialFile(t *testing.T) {
	dir := t.TempDir()
	truth, err := WriteTree(dir, Config{Seed: 2, Flows: 20000, Hours: 1, Partial: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(filepath.Base(truth.Partial), "tmp-v05.") {
		t.Fatalf("partial file %q", truth.Partial)
	}
	b, err := os.ReadFile(filepath.Join(dir, truth.Partial))
	if err != nil {
		t.Fatal(err)
	}
	rd, err := ftfile.NewReader(bytes.NewReader(b), truth.Partial, ftfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rd.Header().Complete() || rd.Header().FlowCount != 0 || rd.Header().CapEnd != 0 {
		t.Fatalf("tmp- header looks complete: %+v", rd.Header())
	}
	buf := make([]flow.Record, 100000)
	n, _ := rd.Read(buf)
	if n == 0 || len(rd.Skips()) == 0 {
		t.Fatalf("%d records, skips %v: want some records and a reported cut", n, rd.Skips())
	}
}
