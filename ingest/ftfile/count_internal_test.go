package ftfile

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"encoding/binary"
	"io"
	"testing"

	"github.com/flowsift/flowsift/flow"
)

// zeroBomb is a zlib stream that inflates to mib MiB of zero bytes, made
// in a few milliseconds whatever its size: deflate one MiB of zeros, then
// deflate a second MiB after it and repeat that second segment. Each
// segment starts and ends on a byte boundary (a sync flush) and refers back
// only to zeros, so any number of copies is a valid stream. The Adler-32 of
// n zero bytes is (n mod 65521)<<16 | 1.
func zeroBomb(t testing.TB, mib int) []byte {
	t.Helper()
	zeros := make([]byte, 1<<20)
	var buf bytes.Buffer
	fw, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(zeros)
	fw.Flush()
	first := bytes.Clone(buf.Bytes())
	buf.Reset()
	fw.Write(zeros)
	fw.Flush()
	seg := bytes.Clone(buf.Bytes())
	buf.Reset()
	fw.Close()
	last := buf.Bytes() // the final, empty block
	out := []byte{0x78, 0xDA}
	out = append(out, first...)
	for range mib - 1 {
		out = append(out, seg...)
	}
	out = append(out, last...)
	n := uint64(mib) << 20
	return binary.BigEndian.AppendUint32(out, uint32(n%65521)<<16|1)
}

func TestZeroBombIsAValidStream(t *testing.T) {
	zr, err := zlib.NewReader(bytes.NewReader(zeroBomb(t, 3)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr) // checks the Adler-32 too
	if err != nil || len(b) != 3<<20 || bytes.IndexFunc(b, func(r rune) bool { return r != 0 }) >= 0 {
		t.Fatalf("%d bytes, err %v", len(b), err)
	}
}

// The bomb: a closed compressed file of about 2 MB whose header
// says 100 flows and whose zlib stream inflates to 2 GiB (33,554,432 v5
// records). The reader delivers the 100, reports the rest, and inflates
// only the promised records and one more to see that they go on.
func TestCountBoundsADecompressionBomb(t *testing.T) {
	var hdr bytes.Buffer
	w, err := NewWriter(&hdr, WriterConfig{ExportVersion: 5, Capture: true, Flags: FlagDone | FlagCompress, FlowCount: 100, Hostname: "nfcap01"})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	bomb := zeroBomb(t, 2048)
	file := append(hdr.Bytes(), bomb...)
	if len(file) > 3<<20 {
		t.Fatalf("bomb file is %d bytes, want about 2 MB", len(file))
	}

	raw := &countReader{r: bytes.NewReader(file)}
	rd, err := NewReader(raw, "bomb.ft", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := rd.openZlib(); err != nil || rd.data == nil {
		t.Fatalf("open zlib: %v", err)
	}
	inflated := &countReader{r: rd.data}
	rd.data = inflated
	batch := make([]flow.Record, 4096)
	n := 0
	for {
		m, err := rd.Read(batch)
		n += m
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	s := rd.Skips()
	if n != 100 || rd.Records() != 100 || len(s) != 1 || s[0].Reason != "count-mismatch" ||
		s[0].Detail != "header FLOW_COUNT 100, more records follow; not read" || s[0].Offset <= int64(hdr.Len()) || s[0].Offset > int64(len(file)) {
		t.Fatalf("%d records, skips %+v", n, s)
	}
	if inflated.n > 101*64 {
		t.Errorf("took %d inflated bytes, want at most 101 records' worth (%d)", inflated.n, 101*64)
	}
	if raw.n > int64(hdr.Len())+64<<10 {
		t.Errorf("read %d of the file's %d bytes, want the header and one 64 KiB buffer at most", raw.n, len(file))
	}
}
