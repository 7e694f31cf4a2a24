package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// cpuProfile is --cpuprofile: a CPU profile of the whole run, in the
// format `go tool pprof` reads. An operator can send one with a report of
// a slow run, and cmd/flowsift/default.pgo (the profile `go build` uses for
// profile-guided optimisation) is made of such profiles (see pgo.sh).
type cpuProfile struct {
	f *os.File
}

func (p *cpuProfile) start(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return usageErr("--cpuprofile: %v", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return usageErr("--cpuprofile %s: %v", path, err)
	}
	p.f = f
	return nil
}

// stop ends the profile and closes its file; nothing if none was started.
func (p *cpuProfile) stop() error {
	if p.f == nil {
		return nil
	}
	pprof.StopCPUProfile()
	err := p.f.Close()
	name := p.f.Name()
	p.f = nil
	if err != nil {
		return fmt.Errorf("--cpuprofile: close %s: %w", name, err)
	}
	return nil
}
