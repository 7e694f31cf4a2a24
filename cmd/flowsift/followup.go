package main

import (
	"os"

	"github.com/flowsift/flowsift/analyze/episode"
	"github.com/flowsift/flowsift/ingest"
	"github.com/flowsift/flowsift/pass"
)

// archives describes each input path as it was read: the formats found
// under it and whether it is a directory, so that each follow-up command
// is one the tool of that kind of file runs.
func archives(sources []ingest.Source) []episode.Archive {
	var out []episode.Archive
	for _, s := range sources {
		a := episode.Archive{Path: s.Path, Formats: s.Formats, Stream: s.Path == "-"}
		if fi, err := os.Stat(s.Path); err == nil {
			a.Dir = fi.IsDir()
			a.Stream = a.Stream || !fi.IsDir() && !fi.Mode().IsRegular()
		}
		out = append(out, a)
	}
	return out
}

// setFollowUps replaces the accountant's follow-up commands, made before
// the inputs were read, with those for the kinds of input that were.
func setFollowUps(res *pass.Result) {
	if res.Episodes == nil {
		return
	}
	arch := archives(res.Summary.Sources)
	for i := range res.Episodes.Episodes {
		ep := &res.Episodes.Episodes[i]
		ep.FollowUp = episode.FollowUpFor(arch, *ep)
	}
}
