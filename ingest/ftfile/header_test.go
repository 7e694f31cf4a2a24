package ftfile_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowsift/flowsift/ingest/ftfile"
	"github.com/flowsift/flowsift/internal/fixture"
)

// WriteText prints what the real flow-header printed for every fixture.
func TestHeaderTextMatchesFlowHeader(t *testing.T) {
	old := time.Local
	time.Local = time.UTC
	t.Cleanup(func() { time.Local = old })
	s := fixture.FlowTools(t)
	var cases [][2]string // file, expected text
	fm, _ := filepath.Glob(filepath.Join(s, "formats", "*.ft.header.txt"))
	for _, h := range fm {
		cases = append(cases, [2]string{strings.TrimSuffix(h, ".header.txt"), h})
	}
	ex, _ := filepath.Glob(filepath.Join(s, "format-examples", "*.flow-header.txt"))
	for _, h := range ex {
		cases = append(cases, [2]string{strings.TrimSuffix(h, ".flow-header.txt") + ".ft", h})
	}
	if len(cases) < 50 {
		t.Fatalf("only %d header fixtures", len(cases))
	}
	for _, c := range cases {
		f, err := os.Open(c[0])
		if err != nil {
			t.Fatal(err)
		}
		h, err := ftfile.ReadHeader(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", c[0], err)
		}
		var got bytes.Buffer
		h.WriteText(&got)
		want, _ := os.ReadFile(c[1])
		if got.String() != string(want) {
			t.Errorf("%s:\n got:\n%s\nwant:\n%s", filepath.Base(c[0]), got.String(), want)
		}
	}
}
