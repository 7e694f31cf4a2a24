package ingest

import (
	"bytes"
	"testing"
	"time"
)

// A line written while the status shows clears it first, and the status
// comes back under the line once the line is complete, never inside it.
func TestTermKeepsLinesApart(t *testing.T) {
	var b bytes.Buffer
	tm := NewTerm(&b)
	tm.Status("files 1/2")
	tm.Write([]byte("alert one\n"))
	tm.Write([]byte("alert "))
	tm.Status("files 2/2")
	tm.Write([]byte("two\n"))
	tm.Status("")
	want := "files 1/2" + "\r\033[K" + "alert one\n" + "files 1/2" + "\r\033[K" + "alert " + "two\n" + "files 2/2" + "\r\033[K"
	if b.String() != want {
		t.Fatalf("got  %q\nwant %q", b.String(), want)
	}
}

func TestProgressLineText(t *testing.T) {
	for _, c := range []struct {
		files, total     int
		flows            uint64
		done, totalBytes int64
		elapsed          time.Duration
		want             string
	}{
		{10, 100, 1_000_000, 0, 0, 10 * time.Second, "files 10/100  flows 1,000,000  100,000 flows/s  about 1 min 30 s left"},
		{10, 100, 1_000_000, 250, 1000, 10 * time.Second, "files 10/100  flows 1,000,000  100,000 flows/s  about 30 s left"},
		{1, 100, 500, 1, 1000, 100 * time.Millisecond, "files 1/100  flows 500"},
		{100, 100, 9_000_000, 1000, 1000, 2 * time.Hour, "files 100/100  flows 9,000,000  1,250 flows/s"},
		{1, 1000, 10, 1, 1000, 10 * time.Minute, "files 1/1000  flows 10  0 flows/s  about 166 h 30 min left"},
	} {
		if got := progressLine(c.files, c.total, c.flows, c.done, c.totalBytes, c.elapsed); got != c.want {
			t.Errorf("got  %q\nwant %q", got, c.want)
		}
	}
}
