package samples

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/ingest/ftfile"
)

// period is flow-capture's default rotation: 96 files a day.
const period = 15 * time.Minute

// exportDelay is how long after a flow ends the exporter sends it.
const exportDelay = 1500

// WriteTree generates an archive into dir as flow-capture would have
// written it (YYYY/YYYY-MM/YYYY-MM-DD/ft-v05.YYYY-MM-DD.HHMMSS+0000, one
// compressed v5 file per 15 minutes, sorted by end time, PDUs of up to 30
// flows sharing their export header) and returns the ground truth. dir
// must be empty or absent.
func WriteTree(dir string, cfg Config) (*Truth, error) {
	recs, truth, err := Generate(cfg)
	if err != nil {
		return nil, err
	}
	cfg = cfg.Defaults()
	// The exporter booted a week before the window, so uptime fits 32 bits.
	boot := cfg.Start.Add(-7 * 24 * time.Hour).UnixMilli()
	// Records are sorted by end time, so export times and hence periods
	// never go backwards: each file is a contiguous run of recs.
	type run struct {
		slot       int64
		start, end int
	}
	var runs []run
	for i := 0; i < len(recs); i += 30 {
		pdu := recs[i:min(i+30, len(recs))]
		export := pdu[len(pdu)-1].End + exportDelay
		slot := (export - cfg.Start.UnixMilli()) / period.Milliseconds()
		for j := range pdu {
			r := &pdu[j]
			r.UnixSecs = uint32(export / 1000)
			r.UnixNsecs = uint32(export%1000) * 1_000_000
			r.SysUptime = uint32(export - boot)
			r.First = uint32(r.Start - boot)
			r.Last = uint32(r.End - boot)
		}
		if len(runs) == 0 || runs[len(runs)-1].slot != slot {
			runs = append(runs, run{slot, i, i})
		}
		runs[len(runs)-1].end = i + len(pdu)
	}
	for i, f := range runs {
		t := cfg.Start.Add(time.Duration(f.slot) * period)
		partial := cfg.Partial && i == len(runs)-1
		name, err := writeFile(dir, t, recs[f.start:f.end], partial)
		if err != nil {
			return nil, err
		}
		if partial {
			truth.Partial = name
		}
	}
	return truth, nil
}

// writeFile writes one period's file and returns its path relative to dir.
// A partial file is what a killed flow-capture leaves: a tmp- name, no
// DONE flag, no capture end or count, and a zlib stream cut at two thirds.
func writeFile(dir string, t time.Time, recs []flow.Record, partial bool) (string, error) {
	sub := filepath.Join(dir, t.Format("2006"), t.Format("2006-01"), t.Format("2006-01-02"))
	if err := os.MkdirAll(sub, 0o755); err != nil {
		return "", err
	}
	name := "ft-v05." + t.Format("2006-01-02.150405-0700")
	wc := ftfile.WriterConfig{ExportVersion: 5, Level: 6, Capture: true, Flags: ftfile.FlagDone,
		CapStart: uint32(t.Unix()), CapEnd: uint32(t.Add(period).Unix()), FlowCount: uint32(len(recs)), Hostname: "nfcap01"}
	if partial {
		name = "tmp" + name[2:]
		wc.Flags, wc.CapEnd, wc.FlowCount = 0, 0, 0
	}
	path := filepath.Join(sub, name)
	var buf bytes.Buffer
	w, err := ftfile.NewWriter(&buf, wc)
	if err != nil {
		return "", err
	}
	hdr := buf.Len()
	if err := w.Write(recs); err != nil {
		return "", err
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	b := buf.Bytes()
	if partial {
		b = b[:hdr+(len(b)-hdr)*2/3]
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	rel, _ := filepath.Rel(dir, path)
	return filepath.ToSlash(rel), nil
}

// MarshalTruth is the truth file's bytes: indented JSON, stable.
func MarshalTruth(t *Truth) ([]byte, error) {
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// ReadTruth loads a truth file.
func ReadTruth(path string) (*Truth, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var t Truth
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("truth %s: %w", path, err)
	}
	return &t, nil
}

// CachedTree returns dir/tree, generating it (and dir/truth.json) unless a
// tree made from the same Config is already there. Benchmarks use it so a
// million-flow archive is made once per machine.
func CachedTree(dir string, cfg Config) (string, error) {
	cfg = cfg.Defaults()
	tree, truthPath := filepath.Join(dir, "tree"), filepath.Join(dir, "truth.json")
	if t, err := ReadTruth(truthPath); err == nil && t.Seed == cfg.Seed && t.Flows == cfg.Flows && t.Hours == cfg.Hours && t.Start == cfg.Start.Format(time.RFC3339) && (t.Partial != "") == cfg.Partial {
		return tree, nil
	}
	os.RemoveAll(dir)
	truth, err := WriteTree(tree, cfg)
	if err != nil {
		return "", err
	}
	b, err := MarshalTruth(truth)
	if err != nil {
		return "", err
	}
	return tree, os.WriteFile(truthPath, b, 0o644)
}
