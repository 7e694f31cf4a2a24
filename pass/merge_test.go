package pass_test

import (
	"bytes"
	"context"
	"io"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/pass"
	"github.com/flowsift/flowsift/report"
)

var sampleArchive = filepath.Join("..", "samples", "archive")

func sampleConfig(t *testing.T) pass.Configuration {
	t.Helper()
	cfg := pass.DefaultConfiguration()
	cfg.Jobs = 2
	for _, p := range []string{"10.20.0.0/16", "172.16.8.0/24", "192.168.50.0/24"} {
		cfg.Local = append(cfg.Local, netip.MustParsePrefix(p))
	}
	cfg.Episodes.Archive = sampleArchive
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// rendered is every document of the report of res.
func rendered(t *testing.T, res *pass.Result) map[string][]byte {
	t.Helper()
	var settings []report.Setting
	for _, s := range res.Settings {
		settings = append(settings, report.Setting(s))
	}
	sum := res.Summary
	m := report.Build(report.Input{Version: "test", GeneratedAt: time.Unix(1_800_000_000, 0), Zone: time.UTC,
		FirstFlow: res.FirstFlow, LastFlow: res.LastFlow, Paths: []string{sampleArchive}, FilesSeen: sum.FilesSeen,
		FilesRead: sum.FilesRead, Flows: sum.Flows, Skips: sum.Sorted(), Partial: sum.Partial(), Settings: settings,
		Detectors: res.Detectors, Result: res.Episodes, Tables: res.Tables, Assessment: res.Assessment})
	out := map[string][]byte{}
	for name, render := range map[string]func(io.Writer, *report.Model) error{
		"report.html": report.HTML, "report.md": report.Markdown, "report.json": report.JSON,
	} {
		var b bytes.Buffer
		if err := render(&b, m); err != nil {
			t.Fatal(err)
		}
		out[name] = b.Bytes()
	}
	for _, tb := range m.Tables() {
		var b bytes.Buffer
		if err := report.CSV(&b, tb); err != nil {
			t.Fatal(err)
		}
		out["csv/"+tb.Name+".csv"] = b.Bytes()
	}
	return out
}

// runPart runs the report's pass over the sample archive for one shard
// and returns its part.
func runPart(t *testing.T, cfg pass.Configuration, shard analyze.Shard) *bytes.Buffer {
	t.Helper()
	cfg.Shard = shard
	r := pass.NewReport(cfg)
	if err := r.Run(context.Background(), pass.Inputs{Paths: []string{sampleArchive}}); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := r.WritePart(&b); err != nil {
		t.Fatal(err)
	}
	return &b
}

// TestSplitBySourceMerges: the sample archive run as two halves of the
// source space, each written as a part and merged, gives the report of one
// run, byte for byte, in every format and whichever order the parts come.
func TestSplitBySourceMerges(t *testing.T) {
	cfg := sampleConfig(t)
	whole, err := pass.RunReport(context.Background(), cfg, pass.Inputs{Paths: []string{sampleArchive}})
	if err != nil {
		t.Fatal(err)
	}
	if len(whole.Episodes.Episodes) < 10 {
		t.Fatalf("the sample archive gave %d episodes; the test needs scanners on both halves", len(whole.Episodes.Episodes))
	}
	want := rendered(t, whole)

	p0 := runPart(t, cfg, analyze.Shard{Index: 0, Count: 2})
	p1 := runPart(t, cfg, analyze.Shard{Index: 1, Count: 2})
	for i, p := range []*bytes.Buffer{p0, p1} {
		res, err := pass.Merge(cfg, bytes.NewReader(p.Bytes()), bytes.NewReader(other(p0, p1, p).Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		got := rendered(t, res)
		if len(got) != len(want) {
			t.Fatalf("order %d: %d documents, want %d", i, len(got), len(want))
		}
		for name, w := range want {
			if !bytes.Equal(got[name], w) {
				t.Errorf("order %d: %s of the merged parts differs from one run's:\n%s", i, name, firstDiff(got[name], w))
			}
		}
	}
	// Each half must hold part of the scanners, or the test proves nothing.
	for _, shard := range []analyze.Shard{{Index: 0, Count: 2}, {Index: 1, Count: 2}} {
		c := cfg
		c.Shard = shard
		half, err := pass.RunReport(context.Background(), c, pass.Inputs{Paths: []string{sampleArchive}})
		if err != nil {
			t.Fatal(err)
		}
		n := len(half.Episodes.Episodes)
		if n == 0 || n == len(whole.Episodes.Episodes) {
			t.Errorf("%s has %d of the %d episodes: the split is not a split", shard, n, len(whole.Episodes.Episodes))
		}
	}
}

func other(a, b, p *bytes.Buffer) *bytes.Buffer {
	if p == a {
		return b
	}
	return a
}

func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			return "line " + strconv.Itoa(i+1) + ":\n got: " + g[i] + "\nwant: " + w[i]
		}
	}
	return "lengths differ"
}

// TestMergeRefusesBadParts: parts that do not make one whole run are
// refused with a message, never merged into a wrong report.
func TestMergeRefusesBadParts(t *testing.T) {
	cfg := sampleConfig(t)
	cfg.Detectors = []string{"dscan"}
	p0 := runPart(t, cfg, analyze.Shard{Index: 0, Count: 2})
	p1 := runPart(t, cfg, analyze.Shard{Index: 1, Count: 2})
	all := cfg
	all.Detectors = nil
	for _, tc := range []struct {
		name  string
		cfg   pass.Configuration
		parts [][]byte
		want  string
	}{
		{"same shard twice", cfg, [][]byte{p0.Bytes(), p0.Bytes()}, "given twice"},
		{"one of two", cfg, [][]byte{p1.Bytes()}, "merging 1 parts"},
		{"other detectors", all, [][]byte{p0.Bytes(), p1.Bytes()}, "this configuration runs"},
		{"garbage", cfg, [][]byte{[]byte("not a part"), p1.Bytes()}, "part 1"},
		{"cut short", cfg, [][]byte{p0.Bytes()[:p0.Len()/2], p1.Bytes()}, "part 1"},
		{"none", cfg, nil, "no part"},
	} {
		var rs []io.Reader
		for _, p := range tc.parts {
			rs = append(rs, bytes.NewReader(p))
		}
		_, err := pass.Merge(tc.cfg, rs...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one saying %q", tc.name, err, tc.want)
		}
	}
}
