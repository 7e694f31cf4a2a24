package ftcsv

import (
	"bytes"
	"strings"
	"testing"

	"github.com/flowsift/flowsift/flow"
)

// FuzzDecode: no text makes the CSV reader panic. An input that cannot be
// read at all is an error naming it with nothing emitted; a skip counts at
// least one row; strict mode fails instead of skipping.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(sample), false)
	f.Add([]byte(sample), true)
	f.Add([]byte("#:srcaddr,dstaddr\n1.2.3.4,5.6.7.8\n::1,::2\n"), false)
	f.Add([]byte("#:unix_secs,dpkts,doctets,prot\n\n,,,\n1,2,3\n"), false)
	f.Fuzz(func(t *testing.T, in []byte, strict bool) {
		emitted := 0
		err := Format{Strict: strict}.Decode("fuzz.csv", bytes.NewReader(in), func(b flow.Batch) error {
			emitted += len(b)
			return nil
		}, func(s flow.Skip) {
			if s.Count < 1 || s.Path != "fuzz.csv" {
				t.Errorf("skip %+v", s)
			}
		})
		if err != nil && !strings.Contains(err.Error(), "fuzz.csv") {
			t.Errorf("error does not name the file: %v", err)
		}
	})
}
