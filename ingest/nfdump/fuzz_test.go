package nfdump

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/flowsift/flowsift/flow"
)

// FuzzDecode: no text makes the nfdump CSV reader panic; a skip counts at
// least one row and an error names the file.
func FuzzDecode(f *testing.F) {
	real, err := os.ReadFile("testdata/nfdump-1.7.1.csv")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(real)
	f.Add(real[:len(real)/2])
	f.Fuzz(func(t *testing.T, in []byte) {
		err := Format{}.Decode("fuzz.csv", bytes.NewReader(in), func(flow.Batch) error { return nil }, func(s flow.Skip) {
			if s.Count < 1 || s.Path != "fuzz.csv" {
				t.Errorf("skip %+v", s)
			}
		})
		if err != nil && !strings.Contains(err.Error(), "fuzz.csv") {
			t.Errorf("error does not name the file: %v", err)
		}
	})
}
