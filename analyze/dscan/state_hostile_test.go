package dscan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/flowsift/flowsift/internal/benchfix"
)

// sealed ends a default-mode state body with its checksum line, as
// SaveState does, so that what is tested is the content, not the sum.
func sealed(body string) []byte {
	sum := sha256.Sum256([]byte(body))
	return []byte(body + "sha256 " + hex.EncodeToString(sum[:]) + "\n")
}

// Hostile state files (issue 17): a flow index that would wrap is refused,
// an overlong line is named as such, and a source listing more than D
// destinations is cut to its D most recently seen.
func TestLoadStateHostile(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Depth = 200
	for _, c := range []struct {
		name string
		data []byte
		want string // in the error; "" loads
	}{
		{"total 2^64-1", sealed(stateMagic + "\ntotal 18446744073709551615\nend\n"), "line 2: total 18446744073709551615: beyond"},
		{"total at the bound", sealed(fmt.Sprintf("%s\ntotal %d\nend\n", stateMagic, uint64(MaxStateTotal))), ""},
		{"total beyond the bound", sealed(fmt.Sprintf("%s\ntotal %d\nend\n", stateMagic, uint64(MaxStateTotal)+1)), "would wrap"},
		{"78 MB line", sealed(stateMagic + "\ntotal 5\n" + "S 10.0.0.1 0 5 " + strings.Repeat("9", 78<<20) + "\nend\n"), "line 3: longer than 65536 bytes"},
		{"no checksum", []byte(stateMagic + "\ntotal 5\nend\n"), "truncated"},
		{"last line cut", sealed(stateMagic + "\ntotal 5\nend\n")[:70], "truncated"},
		{"text after checksum", append(sealed(stateMagic+"\ntotal 5\nend\n"), "S 10.0.0.1 0 1\n"...), "line 5: text after the checksum line"},
	} {
		err := New(cfg, nil).LoadState(bytes.NewReader(c.data), "st")
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "state file st")):
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
	}

	// One source with 300,000 destinations (the file had 5 M):
	// loaded with its 200 most recently seen, in the memory of those
	// (the trimmed ones were once kept on a free list: 1.2 GB of RSS for
	// 5 M), and saved back so.
	var b strings.Builder
	const n = 300_000
	fmt.Fprintf(&b, "%s\ntotal %d\nS 192.0.2.1 1 %d\n", stateMagic, n, n)
	for i := range n {
		fmt.Fprintf(&b, "D 10.%d.%d.%d %d\n", i>>16, i>>8&255, i&255, i+1)
	}
	b.WriteString("end\n")
	data := sealed(b.String())
	b.Reset()
	e := New(cfg, nil)
	before := benchfix.HeapAlloc()
	if err := e.LoadState(bytes.NewReader(data), "st"); err != nil {
		t.Fatal(err)
	}
	if grew := benchfix.HeapAlloc() - before; grew > 4<<20 {
		t.Errorf("the loaded table holds %d MB for 200 destinations", grew>>20)
	}
	if srcs, dsts := e.LoadTrimmed(); srcs != 1 || dsts != n-200 {
		t.Fatalf("LoadTrimmed = %d, %d; want 1, %d", srcs, dsts, n-200)
	}
	var out bytes.Buffer
	if err := e.SaveState(&out); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(out.String(), "\nD "); got != 200 {
		t.Fatalf("saved %d destinations, want 200", got)
	}
	if !strings.Contains(out.String(), fmt.Sprintf("\nD 10.4.147.223 %d\n", n)) || strings.Contains(out.String(), "\nD 10.0.0.0 ") {
		t.Fatal("the kept destinations are not the most recently seen")
	}
}

// A compat state line beyond any flow-dscan writes is named as overlong.
func TestCompatLoadStateLongLine(t *testing.T) {
	state := "H 5 1 0 161.45.161.40\nI  3 10.0.0.1\nP 1 " + strings.Repeat("1", 200<<10) + "\n.\n"
	err := NewCompat(DefaultConfig(), nil).LoadState(strings.NewReader(state), "st")
	if err == nil || !strings.Contains(err.Error(), "state file st: line 3: longer than") {
		t.Fatalf("%v", err)
	}
}
