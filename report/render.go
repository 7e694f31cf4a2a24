package report

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/quotedprintable"
	"reflect"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/pkg/twcache"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// JSON writes the model as one indented document (the bytes of
// json.MarshalIndent with two spaces). It streams: each top-level field,
// and each element of a list, is encoded and written on its own, so a
// report with a hundred thousand episodes never holds its whole JSON
// text, nor a copy of the model, in memory.
func JSON(w io.Writer, m *Model) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	v := reflect.ValueOf(m).Elem()
	t := v.Type()
	put := func(x reflect.Value, prefix string) error {
		b, err := json.MarshalIndent(fill(x).Interface(), prefix, "  ")
		if err != nil {
			return err
		}
		_, err = bw.Write(b)
		return err
	}
	bw.WriteString("{")
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if i > 0 {
			bw.WriteString(",")
		}
		key, _ := json.Marshal(name)
		bw.WriteString("\n  ")
		bw.Write(key)
		bw.WriteString(": ")
		f := v.Field(i)
		if f.Kind() != reflect.Slice || f.Len() == 0 {
			if err := put(f, "  "); err != nil {
				return err
			}
			continue
		}
		bw.WriteString("[")
		for j := 0; j < f.Len(); j++ {
			if j > 0 {
				bw.WriteString(",")
			}
			bw.WriteString("\n    ")
			if err := put(f.Index(j), "    "); err != nil {
				return err
			}
		}
		bw.WriteString("\n  ]")
	}
	bw.WriteString("\n}\n")
	return bw.Flush()
}

// CSV writes one table (header row, then rows), a row at a time: a table
// whose rows come on demand (Table.Row) is never held whole.
func CSV(w io.Writer, t Table) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(t.Columns); err != nil {
		return err
	}
	for r := range t.All {
		if err := cw.Write(r); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// mdCell keeps a cell inside its Markdown column: tablewriter's Markdown
// renderer does not escape "|", and a newline would end the row.
func mdCell(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

// Markdown writes the report as Markdown tables, readable as plain text.
func Markdown(w io.Writer, m *Model) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# flowsift report: %s .. %s\n\n", m.Window.From, m.Window.To)
	b.WriteString(m.Headline() + ".\n")
	for _, w := range m.SourceWarnings() {
		fmt.Fprintf(&b, "\n**Warning:** %s.\n", w)
	}
	// One table writer for every section, reset between them, with a
	// one-entry stringer cache: cells are strings and the cache is never
	// used, yet Reset remade its default 10k-entry map for every section
	// (24 of the 40 ms Markdown took on the 1M-flow tree).
	tb := tablewriter.NewTable(&b, tablewriter.WithRenderer(renderer.NewMarkdown()),
		tablewriter.WithHeaderAutoFormat(tw.Off), tablewriter.WithRowAutoWrap(tw.WrapNone), tablewriter.WithHeaderAutoWrap(tw.WrapNone),
		tablewriter.WithStringerCacheCustom(twcache.NewLRU[reflect.Type, reflect.Value](1)))
	for _, t := range m.View(TextLimits) {
		fmt.Fprintf(&b, "\n## %s\n\n", t.Title)
		if t.Note != "" {
			b.WriteString(t.Note + "\n\n")
		}
		if len(t.Rows) == 0 {
			b.WriteString("(none)\n")
			continue
		}
		if t.Name == "followup" {
			followupMD(&b, t.Scanners)
			continue
		}
		tb.Reset()
		hdr := make([]string, len(t.Columns))
		for i, c := range t.Columns {
			hdr[i] = mdCell(c)
		}
		tb.Header(hdr)
		for _, r := range t.Rows {
			cells := make([]string, len(r))
			for i, c := range r {
				cells[i] = mdCell(c)
			}
			if err := tb.Append(cells); err != nil {
				return err
			}
		}
		if err := tb.Render(); err != nil {
			return err
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// followupMD prints commands as code blocks: they are to be copied.
func followupMD(b *bytes.Buffer, scanners []Scanner) {
	for _, s := range scanners {
		fmt.Fprintf(b, "### %s (%s, %s .. %s)\n\n", s.Src, s.Kind, s.First, s.Last)
		if s.FilterFile != "" {
			fmt.Fprintf(b, "flow-nfilter definition (save as a file):\n\n```\n%s```\n\n", strings.TrimRight(s.FilterFile, "\n")+"\n")
		}
		if s.FlowTools != "" {
			fmt.Fprintf(b, "```\n%s\n```\n\n", s.FlowTools)
		}
		if s.Nfdump != "" {
			fmt.Fprintf(b, "```\n%s\n```\n\n", s.Nfdump)
		}
		if s.FollowUpCmd != "" {
			fmt.Fprintf(b, "```\n%s\n```\n\n", s.FollowUpCmd)
		}
	}
}

// Mail writes a MIME multipart/alternative message ready for `sendmail
// -t`: the plain text of Text (80 columns) as text/plain, and MailHTML
// (inline styles, nothing external) as text/html. The boundary is derived
// from the content, so the same report gives the same bytes.
func Mail(w io.Writer, m *Model, from, to, subject string) error {
	if err := CheckMail(from, to); err != nil {
		return err
	}
	var text, html bytes.Buffer
	if err := Text(&text, m); err != nil {
		return err
	}
	if err := MailHTML(&html, m); err != nil {
		return err
	}
	sum := sha256.Sum256(append(text.Bytes(), html.Bytes()...))
	boundary := "flowsift-" + hex.EncodeToString(sum[:12])
	var b bytes.Buffer
	hdr := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	hdr("From", from)
	hdr("To", to)
	hdr("Subject", encodeHeader(subject))
	hdr("Date", mailDate(m.GeneratedAt))
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", `multipart/alternative; boundary="`+boundary+`"`)
	b.WriteString("\r\n")
	for _, part := range []struct {
		ctype string
		body  []byte
	}{{"text/plain; charset=utf-8", text.Bytes()}, {"text/html; charset=utf-8", html.Bytes()}} {
		fmt.Fprintf(&b, "--%s\r\nContent-Type: %s\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n", boundary, part.ctype)
		qp := quotedprintable.NewWriter(&b)
		if _, err := qp.Write(part.body); err != nil {
			return err
		}
		qp.Close()
		b.WriteString("\r\n")
	}
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	_, err := w.Write(b.Bytes())
	return err
}
