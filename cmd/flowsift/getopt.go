package main

import (
	"fmt"
	"strings"
)

// getopt parses POSIX-style short options the way flow-tools' programs do
// (bundled flags "-bmW", values attached "-I25" or separate "-D 64"), plus
// GNU-style long options ("--compat", "--jobs=2", "--jobs 2"). Parsing
// stops at "--" or the first operand; "-" alone is an operand (stdin).
type getopt struct {
	short map[byte]bool   // option letter -> takes a value
	long  map[string]bool // long name -> takes a value
	alias map[string]byte // long name -> short letter it stands for
}

type optVal struct {
	name string // short letter as a string, or long name
	val  string
}

func (g *getopt) parse(args []string) ([]optVal, []string, error) {
	var out []optVal
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return out, args[i+1:], nil
		case strings.HasPrefix(a, "--"):
			name, val, hasVal := strings.Cut(a[2:], "=")
			takes, ok := g.long[name]
			if !ok {
				return nil, nil, fmt.Errorf("unknown option --%s", name)
			}
			if takes && !hasVal {
				if i+1 >= len(args) {
					return nil, nil, fmt.Errorf("option --%s needs a value", name)
				}
				i++
				val = args[i]
			} else if !takes && hasVal {
				return nil, nil, fmt.Errorf("option --%s takes no value", name)
			}
			if c, ok := g.alias[name]; ok {
				name = string(c)
			}
			out = append(out, optVal{name, val})
		case len(a) > 1 && a[0] == '-':
			for j := 1; j < len(a); j++ {
				c := a[j]
				takes, ok := g.short[c]
				if !ok {
					return nil, nil, fmt.Errorf("unknown option -%c", c)
				}
				if !takes {
					out = append(out, optVal{string(c), ""})
					continue
				}
				val := a[j+1:]
				if val == "" {
					if i+1 >= len(args) {
						return nil, nil, fmt.Errorf("option -%c needs a value", c)
					}
					i++
					val = args[i]
				}
				out = append(out, optVal{string(c), val})
				break
			}
		default:
			return out, args[i:], nil
		}
	}
	return out, nil, nil
}
