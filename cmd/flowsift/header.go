package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v3"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/ingest"
	"github.com/flowsift/flowsift/ingest/ftfile"
	"github.com/flowsift/flowsift/ingest/nfcapd"
	"github.com/flowsift/flowsift/internal/names"
)

func init() {
	register(&cli.Command{
		Name:      "header",
		Usage:     "print flow-tools file headers, as flow-header does, and nfdump file headers, as nfdump -I does",
		UsageText: "flowsift header FILE... (- for standard input)",
		Action: func(ctx context.Context, c *cli.Command) error {
			files := c.Args().Slice()
			if len(files) == 0 {
				files = []string{"-"}
			}
			failed := 0
			for _, p := range files {
				if len(files) > 1 {
					fmt.Fprintf(stdio.out, "==> %s <==\n", p)
				}
				if err := printHeader(p); err != nil {
					fmt.Fprintf(stdio.err, "flowsift: header %s: %s\n", quoteName(p), names.OneLine(err.Error()))
					failed++
				}
			}
			if failed > 0 {
				return withCode(exitUsage, fmt.Errorf("header: %d of %d files could not be read", failed, len(files)))
			}
			return nil
		},
	})
}

func printHeader(path string) error {
	var r io.Reader = stdio.in
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	if f, ok := r.(*os.File); ok && path != "-" {
		// An nfdump file keeps its statistics at the end: read them by seeking.
		var magic [4]byte
		if n, _ := io.ReadFull(f, magic[:]); (nfcapd.Format{}).Sniff(magic[:n], path) {
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return err
			}
			h, err := nfcapd.ReadInfo(f)
			if err != nil {
				return err
			}
			return h.WriteText(stdio.out, path)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
	} else {
		// Standard input cannot seek: an nfdump stream is read to its
		// appendix, one block at a time.
		br := bufio.NewReader(r)
		if magic, _ := br.Peek(4); (nfcapd.Format{}).Sniff(magic, path) {
			return nfcapdStreamHeader(br, path)
		}
		r = br
	}
	h, err := ftfile.ReadHeader(r)
	if err != nil {
		return err
	}
	return h.WriteText(stdio.out)
}

func nfcapdStreamHeader(r io.Reader, path string) error {
	rd, err := nfcapd.NewReader(r, path, false)
	if err != nil {
		return err
	}
	defer rd.Close()
	var buf []flow.Record
	for err == nil {
		buf, err = rd.Read(buf)
	}
	if err != io.EOF {
		return err
	}
	for _, s := range rd.Skips() {
		if s.Reason != "sampled" {
			return fmt.Errorf("%s", ingest.SkipString(s))
		}
	}
	return rd.Header().WriteText(stdio.out, path)
}
