package policy

import (
	"os"
	"testing"
)

// FuzzParse: no policy text makes the parser panic, and a policy that
// parses gives detector configurations without panicking either.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile("../samples/policy.example.toml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte("[dscan]\ndepth = 5\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			return
		}
		p.LocalPrefixes()
		p.WeightedConfig()
		p.TRWConfig()
		p.HeuristicsConfig()
	})
}
