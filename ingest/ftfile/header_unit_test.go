package ftfile_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/flowsift/flowsift/flow"
	"github.com/flowsift/flowsift/ingest/ftfile"
)

type tlv struct {
	t uint16
	v []byte
}

// buildV3 lays out a stream-v3 header by hand: TLVs packed without
// alignment, then pad (any bytes) up to a multiple of 4.
func buildV3(be bool, pad []byte, tlvs ...tlv) []byte {
	var bo binary.AppendByteOrder = binary.LittleEndian
	order := byte(1)
	if be {
		bo, order = binary.BigEndian, 2
	}
	var body []byte
	for _, x := range tlvs {
		body = bo.AppendUint16(body, x.t)
		body = bo.AppendUint16(body, uint16(len(x.v)))
		body = append(body, x.v...)
	}
	body = append(body, pad...)
	out := []byte{0xCF, 0x10, order, 3}
	out = bo.AppendUint32(out, uint32(8+len(body)))
	return append(out, body...)
}

func u16v(be bool, v uint16) []byte {
	if be {
		return binary.BigEndian.AppendUint16(nil, v)
	}
	return binary.LittleEndian.AppendUint16(nil, v)
}

func u32v(be bool, v uint32) []byte {
	if be {
		return binary.BigEndian.AppendUint32(nil, v)
	}
	return binary.LittleEndian.AppendUint32(nil, v)
}

func TestHeaderTLVParsing(t *testing.T) {
	for _, be := range []bool{false, true} {
		hdr := buildV3(be, []byte{0x4a, 0x54, 0x7f}, // garbage padding, as flow-capture -b big leaves
			tlv{0x02, u16v(be, 1005)},
			tlv{0x0F, []byte("cap\x00")}, // odd lengths: later TLVs are unaligned
			tlv{0x08, u32v(be, ftfile.FlagDone)},
			tlv{0x06, u32v(be, 100)},
			tlv{0x77, []byte{1, 2, 3}}, // unknown type: kept, skipped
			tlv{0x06, u32v(be, 200)},   // a later TLV overrides an earlier one
			tlv{0x10, []byte("hi\x00")},
			tlv{0x05, u32v(be, 0x0A000201)},
		)
		data := append(hdr, 0xEE) // first data byte
		r := bytes.NewReader(data)
		h, err := ftfile.ReadHeader(r)
		if err != nil {
			t.Fatalf("be=%v: %v", be, err)
		}
		if h.BigEndian != be || h.HeaderLen != len(hdr) || h.ExportVersion != 1005 || h.Hostname != "cap" || h.Comments != "hi" ||
			h.CapStart != 200 || h.Flags != ftfile.FlagDone || h.ExporterIP != 0x0A000201 || len(h.TLVs) != 8 || h.TLVs[4].Type != 0x77 ||
			!h.Has(0x06) || h.Has(0x07) || h.RecordSize() != 72 {
			t.Fatalf("be=%v: header %+v", be, h)
		}
		if b, _ := r.ReadByte(); b != 0xEE {
			t.Fatalf("be=%v: reader not left at offset H", be)
		}
	}
}

// A TLV whose value would run past H ends parsing without an error.
func TestHeaderTLVPastEnd(t *testing.T) {
	hdr := buildV3(false, nil, tlv{0x02, u16v(false, 5)}, tlv{0x10, []byte("comment\x00")})
	// Claim a longer value for the last TLV than the header holds.
	binary.LittleEndian.PutUint16(hdr[len(hdr)-8-2:], 200)
	h, err := ftfile.ReadHeader(bytes.NewReader(hdr))
	if err != nil || h.ExportVersion != 5 || h.Has(0x10) || len(h.TLVs) != 1 {
		t.Fatalf("%+v %v", h, err)
	}
}

func TestHeaderErrors(t *testing.T) {
	good := buildV3(false, nil, tlv{0x02, u16v(false, 5)}, tlv{0x08, u32v(false, 0)})
	cases := map[string]struct {
		b    []byte
		want string
	}{
		"zero length":     {nil, "empty file, no header"},
		"three bytes":     {[]byte{0xCF, 0x10, 1}, "short read"},
		"bad magic":       {[]byte("garbage that is long enough"), "bad magic"},
		"byte order 0":    {append([]byte{0xCF, 0x10, 0, 3}, good[4:]...), "byte order"},
		"byte order 3":    {append([]byte{0xCF, 0x10, 3, 3}, good[4:]...), "byte order"},
		"stream ver 2":    {append([]byte{0xCF, 0x10, 1, 2}, good[4:]...), "stream version 2"},
		"H < 8":           {[]byte{0xCF, 0x10, 1, 3, 7, 0, 0, 0}, "header length 7"},
		"H > 1 MiB":       {[]byte{0xCF, 0x10, 2, 3, 0, 0x10, 0, 1}, "header length"},
		"file shorter":    {good[:len(good)-1], "short read"},
		"no length":       {[]byte{0xCF, 0x10, 1, 3, 20}, "short read"},
		"short v1 header": {append([]byte{0xCF, 0x10, 1, 1}, make([]byte, 100)...), "short read"},
	}
	for name, c := range cases {
		_, err := ftfile.ReadHeader(bytes.NewReader(c.b))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want %q", name, err, c.want)
		}
		_, err = ftfile.NewReader(bytes.NewReader(c.b), "dir/f.ft", ftfile.Options{})
		if err == nil || !strings.Contains(err.Error(), "dir/f.ft") {
			t.Errorf("%s: NewReader error %v does not name the file", name, err)
		}
	}
	if _, err := ftfile.ReadHeader(bytes.NewReader(nil)); !errors.Is(err, ftfile.ErrEmpty) {
		t.Errorf("zero length: %v is not ErrEmpty", err)
	}
	if _, err := ftfile.ReadHeader(bytes.NewReader([]byte("not a flow file"))); !errors.Is(err, ftfile.ErrBadMagic) {
		t.Errorf("bad magic: %v is not ErrBadMagic", err)
	}
	// Versions without a record layout are refused by the reader with the
	// version named.
	for _, v := range []tlv{{0x02, u16v(false, 9)}} {
		_, err := ftfile.NewReader(bytes.NewReader(buildV3(false, nil, v)), "x.ft", ftfile.Options{})
		if err == nil || !strings.Contains(err.Error(), "export version 9") {
			t.Errorf("export version 9: %v", err)
		}
	}
	_, err := ftfile.NewReader(bytes.NewReader(buildV3(false, nil, tlv{0x02, u16v(false, 8)}, tlv{0x03, []byte{2}}, tlv{0x04, []byte{15}})), "x.ft", ftfile.Options{})
	if err == nil || !strings.Contains(err.Error(), "method 15") {
		t.Errorf("v8.15: %v", err)
	}
}

// buildV1 makes a stream-version-1 file: 360-byte header, 60-byte records.
func buildV1(be bool, dver uint16, flags uint32, host string, recs [][60]byte) []byte {
	var bo binary.ByteOrder = binary.LittleEndian
	order := byte(1)
	if be {
		bo, order = binary.BigEndian, 2
	}
	h := make([]byte, 360)
	copy(h, []byte{0xCF, 0x10, order, 1})
	bo.PutUint16(h[4:], dver)
	bo.PutUint32(h[8:], 999990000)
	bo.PutUint32(h[12:], 999990900)
	bo.PutUint32(h[16:], flags)
	bo.PutUint32(h[24:], uint32(len(recs)))
	copy(h[36:], host)
	for _, r := range recs {
		h = append(h, r[:]...)
	}
	return h
}

func v1Record(be bool) [60]byte {
	var bo binary.ByteOrder = binary.LittleEndian
	if be {
		bo = binary.BigEndian
	}
	var b [60]byte
	bo.PutUint32(b[0:], 999990000)
	bo.PutUint32(b[4:], 250) // milliseconds in stream v1
	bo.PutUint32(b[8:], 0xC0A8010A)
	bo.PutUint32(b[12:], 0xAC100514)
	bo.PutUint32(b[16:], 0x0A0000FE)
	bo.PutUint16(b[20:], 2)
	bo.PutUint16(b[22:], 3)
	bo.PutUint32(b[24:], 3)
	bo.PutUint32(b[28:], 180)
	bo.PutUint32(b[32:], 60000)
	bo.PutUint32(b[36:], 61000)
	bo.PutUint16(b[40:], 51515)
	bo.PutUint16(b[42:], 443)
	b[46], b[47], b[48] = 6, 0x10, 0x1b
	b[49], b[50], b[51] = 9, 9, 9 // retransmit counters: dropped
	bo.PutUint16(b[52:], 64512)
	bo.PutUint16(b[54:], 65001)
	b[56], b[57] = 24, 16
	return b
}

// Stream-version-1 files convert as flow-tools does (format doc 4.4):
// sysUpTime = exaddr = 0, msecs become nsecs, v5 keeps AS and masks.
func TestStreamV1(t *testing.T) {
	old := time.Local
	time.Local = time.UTC
	t.Cleanup(func() { time.Local = old })
	for _, be := range []bool{false, true} {
		for _, dver := range []uint16{0xFFFF, 1, 5} {
			file := buildV1(be, dver, ftfile.FlagDone, "oldhost", [][60]byte{v1Record(be), v1Record(be)})
			file = append(file, 1, 2, 3) // a partial record at the end
			rd, err := ftfile.NewReader(bytes.NewReader(file), "old.ft", ftfile.Options{})
			if err != nil {
				t.Fatal(err)
			}
			h := rd.Header()
			wantVer := dver
			if dver == 0xFFFF {
				wantVer = 1
			}
			if h.StreamVersion != 1 || h.ExportVersion != wantVer || h.HeaderLen != 360 || h.RecordSize() != 60 || h.Hostname != "oldhost" || h.CapStart != 999990000 || h.FlowCount != 2 {
				t.Fatalf("header %+v", h)
			}
			recs := make([]flow.Record, 10)
			n, err := rd.Read(recs)
			if n != 2 || err != nil {
				t.Fatalf("be=%v v=%d: %d records, %v", be, dver, n, err)
			}
			if _, err := rd.Read(recs); err != io.EOF {
				t.Fatalf("want io.EOF, got %v", err)
			}
			if s := rd.Skips(); len(s) != 1 || s[0].Reason != "truncated" || s[0].Offset != 360+120 {
				t.Fatalf("skips %+v", s)
			}
			r := recs[0]
			// flow-export prints 999990000,250000000,0,0.0.0.0,3,180,60000,61000 for this record.
			if r.UnixSecs != 999990000 || r.UnixNsecs != 250000000 || r.SysUptime != 0 || r.Exporter.String() != "0.0.0.0" ||
				r.Packets != 3 || r.Octets != 180 || r.First != 60000 || r.Last != 61000 || r.Src.String() != "192.168.1.10" ||
				r.Dst.String() != "172.16.5.20" || r.Nexthop.String() != "10.0.0.254" || r.Input != 2 || r.Output != 3 ||
				r.SrcPort != 51515 || r.DstPort != 443 || r.Proto != 6 || r.ToS != 0x10 || r.TCPFlags != 0x1b {
				t.Fatalf("record %+v", r)
			}
			if r.Fields != ftfile.FlowExportMask(wantVer, 0) {
				t.Fatalf("fields %#x", r.Fields)
			}
			if wantVer == 5 && (r.SrcAS != 64512 || r.DstAS != 65001 || r.SrcMask != 24 || r.DstMask != 16) {
				t.Fatalf("v5 fields %+v", r)
			}
			if wantVer == 1 && (r.SrcAS != 0 || r.SrcMask != 0) {
				t.Fatalf("v1 record has v5 fields %+v", r)
			}
			// uptime 0: unix time is the router's boot, First is the offset.
			if r.Start != 999990000*1000+250+60000 || r.End != 999990000*1000+250+61000 {
				t.Fatalf("times %d %d", r.Start, r.End)
			}
			// flow-header: translated (not for big-endian, see format doc
			// 2.3), no capture times, no lost-flow counts.
			var txt bytes.Buffer
			h.WriteText(&txt)
			tr := "# translated:           yes\n"
			if be {
				tr = ""
			}
			order := "little"
			if be {
				order = "big"
			}
			want := "#\n# mode:                 normal\n" + tr + "# capture hostname:     oldhost\n# compress:             off\n# byte order:           " + order +
				"\n# stream version:       1\n# export version:       " + map[uint16]string{1: "1", 5: "5"}[wantVer] + "\n# capture flows:        2\n#\n"
			if txt.String() != want {
				t.Fatalf("header text:\n%s\nwant:\n%s", txt.String(), want)
			}
		}
	}
	// Compressed stream-v1 data is one zlib stream, like stream v3.
	if _, err := ftfile.ReadHeader(bytes.NewReader(buildV1(false, 7, 0, "", nil))); err == nil || !strings.Contains(err.Error(), "export version 7") {
		t.Fatalf("stream v1 with export version 7: %v", err)
	}
}

// IF_NAME / IF_ALIAS print as the 0.68 reader decodes them (format doc
// 2.2), newest first, after a "#" line.
func TestHeaderTextIfNames(t *testing.T) {
	name := append(append(u32v(false, 0x0A000201), u16v(false, 7)...), "ge-0/0/1\x00"...)
	alias := append(append(append(append(u32v(false, 0x0A000201), u16v(false, 2)...), u16v(false, 3)...), u16v(false, 4)...), "uplinks\x00"...)
	hdr := buildV3(false, nil, tlv{0x02, u16v(false, 5)}, tlv{0x08, u32v(false, ftfile.FlagStreaming)}, tlv{0x11, name}, tlv{0x12, alias})
	h, err := ftfile.ReadHeader(bytes.NewReader(hdr))
	if err != nil {
		t.Fatal(err)
	}
	if len(h.IfNames) != 1 || h.IfNames[0].IfIndex != 7 || h.IfNames[0].Name != "ge-0/0/1" || len(h.IfAliases) != 1 || h.IfAliases[0].Name != "uplinks" {
		t.Fatalf("%+v %+v", h.IfNames, h.IfAliases)
	}
	var b bytes.Buffer
	h.WriteText(&b)
	want := "#\n# mode:                 streaming\n# compress:             off\n# byte order:           little\n# stream version:       3\n# export version:       5\n#\n# ifname 10.0.2.1 7 ge-0/0/1\n#\n# ifalias 10.0.2.1 3 4 uplinks\n#\n"
	if b.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
