package nfcapd

import (
	"bufio"
	"fmt"
	"io"
)

// ReadInfo reads what nfdump -I shows of a file: its header and, for
// layout 2, the ident and statistics of its appendix (found by seeking,
// without reading the data blocks). A file without an appendix (a capture
// still open) has a nil Stat.
func ReadInfo(r io.ReadSeeker) (*Header, error) {
	h, err := ReadHeader(r)
	if err != nil {
		return nil, err
	}
	if h.Layout != layoutV2 || h.OffAppendix <= 0 || h.AppendixBlocks == 0 {
		return h, nil
	}
	if _, err := r.Seek(h.OffAppendix, io.SeekStart); err != nil {
		return h, fmt.Errorf("seek to the appendix at offset %d: %w", h.OffAppendix, err)
	}
	rd := &Reader{hdr: h, st: newDecodeState()}
	rd.br = newBlockReader(bufio.NewReader(r), h.OffAppendix, h.Compression)
	b, err := rd.nextBlock()
	if err != nil {
		rd.br.close()
		return h, fmt.Errorf("appendix at offset %d: %w", h.OffAppendix, err)
	}
	rd.appendix(b)
	rd.br.close()
	if len(rd.skips) > 0 {
		return h, fmt.Errorf("appendix: %s", rd.skips[0].Detail)
	}
	return h, nil
}
