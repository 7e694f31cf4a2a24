package ingest

import (
	"fmt"
	"os"
	"syscall"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/internal/names"
)

// dedupe drops the inputs that are a file already listed (the same path
// given twice, a tree and a file inside it, two links to one file): read
// twice, its flows would count twice. Files are told apart by device and
// inode, so every way of naming one file is caught. The first in file
// order is kept; each one dropped is a "duplicate" note, which does not
// make the run partial (no flow is lost). Streams are read as they come.
func dedupe(inputs []Input) ([]Input, []flow.Skip) {
	type key struct{ dev, ino uint64 }
	seen := map[key]string{}
	out := inputs[:0]
	var skips []flow.Skip
	for _, in := range inputs {
		if in.Stdin || in.Stream {
			out = append(out, in)
			continue
		}
		st, err := os.Stat(in.Path)
		if err != nil {
			out = append(out, in)
			continue
		}
		s, ok := st.Sys().(*syscall.Stat_t)
		if !ok {
			out = append(out, in)
			continue
		}
		k := key{uint64(s.Dev), s.Ino}
		if first, dup := seen[k]; dup {
			skips = append(skips, flow.Skip{Path: in.Path, Offset: -1, Reason: "duplicate", Count: 1,
				Detail: fmt.Sprintf("the same file as %s (given twice, or inside a tree also given); read once", names.Quote(first))})
			continue
		}
		seen[k] = in.Path
		out = append(out, in)
	}
	return out, skips
}
