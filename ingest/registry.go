package ingest

import (
	"github.com/flowsift/flowsift/ingest/ftcsv"
	"github.com/flowsift/flowsift/ingest/ftfile"
	"github.com/flowsift/flowsift/ingest/nfcapd"
	"github.com/flowsift/flowsift/ingest/nfdump"
	"github.com/flowsift/flowsift/ingest/parquet"
)

// formats lists the drivers, in sniffing order: binary magics first, text
// last. Each driver is configured from Options.
func formats(opt Options) []Format {
	return append(append([]Format(nil), extraFormats...), builtin(opt)...)
}

// extraFormats lets tests plug in drivers of their own.
var extraFormats []Format

func builtin(opt Options) []Format {
	return []Format{
		ftfile.Format{Opt: ftfile.Options{CompatByteOrder: opt.CompatByteOrder}},
		// With two jobs or more, one nfdump file decompresses on a
		// second core while its records are decoded.
		nfcapd.Format{Prefetch: opt.jobs() > 1},
		parquet.Format{},
		ftcsv.Format{Strict: opt.Strict},
		nfdump.Format{Strict: opt.Strict, Loc: opt.NfdumpZone},
	}
}

// streamFormat is the reader for standard input: a flow-tools stream.
func streamFormat(opt Options) Format {
	return ftfile.Format{Opt: ftfile.Options{CompatByteOrder: opt.CompatByteOrder}}
}
