package dscan

import (
	"bytes"
	"strings"
	"testing"
)

// stateSeeds are states both engines wrote after some traffic.
func stateSeeds(f *testing.F) (engine, compat []byte) {
	flows := randomFlows(3000, 9)
	cfg := DefaultConfig()
	cfg.Depth = 20
	e := New(cfg, nil)
	e.Process(flows)
	var eb, cb bytes.Buffer
	if err := e.SaveState(&eb); err != nil {
		f.Fatal(err)
	}
	c := NewCompat(cfg, nil)
	c.Process(flows)
	if err := c.SaveState(&cb); err != nil {
		f.Fatal(err)
	}
	return eb.Bytes(), cb.Bytes()
}

// FuzzLoadState: a damaged state file is an error naming it, never a
// panic; and a state that loads is one the engine can go on from (flows
// processed after it, and the state saved again).
func FuzzLoadState(f *testing.F) {
	eng, compat := stateSeeds(f)
	f.Add(eng[:min(len(eng), 4000)], false)
	f.Add(compat[:min(len(compat), 4000)], true)
	f.Add([]byte{}, false)
	more := randomFlows(500, 10)
	f.Fuzz(func(t *testing.T, b []byte, isCompat bool) {
		cfg := DefaultConfig()
		cfg.Depth = 20
		var err error
		if isCompat {
			c := NewCompat(cfg, nil)
			if err = c.LoadState(bytes.NewReader(b), "fuzz.state"); err == nil {
				c.Process(more)
				err = c.SaveState(&bytes.Buffer{})
			}
		} else {
			e := New(cfg, nil)
			if err = e.LoadState(bytes.NewReader(b), "fuzz.state"); err == nil {
				e.Process(more)
				e.Flush()
				err = e.SaveState(&bytes.Buffer{})
			}
		}
		if err != nil && !strings.Contains(err.Error(), "fuzz.state") {
			t.Errorf("error does not name the file: %v", err)
		}
	})
}

// FuzzParseList: no suppress list makes the parser panic, in either mode.
func FuzzParseList(f *testing.F) {
	f.Add("10.0.0.1 - - -\n192.168.0.0/16 6 53 -\n# comment\n", false)
	f.Add("10.0.0.1\n10.0.0.2 17\nbad line here\n", true)
	f.Fuzz(func(t *testing.T, s string, compat bool) {
		for _, which := range []string{"src", "dst"} {
			_, _, _ = ParseList(strings.NewReader(s), which, compat)
		}
	})
}
