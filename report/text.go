package report

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// TextWidth is the width of the plain-text report (the mail's text part):
// it reads on a phone and in any terminal mail reader.
const TextWidth = 80

// Text writes the report (the View cut to MailLimits: it is the mail's
// text part) as plain text no wider than TextWidth columns
// (a word longer than a line is broken; a command is continued with a
// shell backslash, so it still runs when pasted). A table whose columns
// fit the width is printed as columns, any other one row by row, each
// row a block of "name value" pairs.
func Text(w io.Writer, m *Model) error {
	var b bytes.Buffer
	wrap(&b, "flowsift report "+m.Window.From+" .. "+m.Window.To+" (UTC)", "", "")
	if m.Window.Zone != "UTC" && m.Window.Zone != "" {
		wrap(&b, m.Window.FromLocal+" .. "+m.Window.ToLocal+" ("+m.Window.Zone+")", "", "")
	}
	b.WriteString("\n")
	wrap(&b, m.Headline()+".", "", "")
	for _, s := range m.SourceWarnings() {
		b.WriteString("\n")
		wrap(&b, "WARNING: "+s+".", "", "  ")
	}
	for _, t := range m.View(MailLimits) {
		title := strings.ToUpper(t.Title)
		fmt.Fprintf(&b, "\n\n%s\n%s\n", title, strings.Repeat("=", min(utf8.RuneCountInString(title), TextWidth)))
		if t.Note != "" {
			wrap(&b, t.Note, "", "")
			b.WriteString("\n")
		}
		if len(t.Rows) == 0 {
			b.WriteString("(none)\n")
			continue
		}
		if t.Name == "followup" {
			followupText(&b, t.Scanners)
			continue
		}
		switch {
		case columnsText(&b, t):
		case len(t.Columns) == 2:
			// Name and value: one line each, the value hanging.
			for _, r := range t.Rows {
				wrap(&b, r[0]+": "+r[1], "", "    ")
			}
		default:
			blocksText(&b, t)
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// columnsText prints t as aligned columns when they fit the width.
func columnsText(b *bytes.Buffer, t Table) bool {
	wd := make([]int, len(t.Columns))
	for i, c := range t.Columns {
		wd[i] = utf8.RuneCountInString(c)
	}
	for _, r := range t.Rows {
		for i, c := range r {
			wd[i] = max(wd[i], utf8.RuneCountInString(c))
		}
	}
	total := 0
	for _, x := range wd {
		total += x + 2
	}
	if total-2 > TextWidth {
		return false
	}
	line := func(cells []string) {
		var l strings.Builder
		for i, c := range cells {
			if i > 0 {
				l.WriteString("  ")
			}
			l.WriteString(c + strings.Repeat(" ", wd[i]-utf8.RuneCountInString(c)))
		}
		b.WriteString(strings.TrimRight(l.String(), " ") + "\n")
	}
	line(t.Columns)
	rule := make([]string, len(wd))
	for i, x := range wd {
		rule[i] = strings.Repeat("-", x)
	}
	line(rule)
	for _, r := range t.Rows {
		line(r)
	}
	return true
}

// headCols is how many leading cells make a row's first line.
var headCols = map[string]int{"local": 4, "answered": 4, "other": 4, "excessive": 2}

// blocksText prints each row as its leading cells, then the other
// non-empty cells as "name value" pairs, wrapped under them.
func blocksText(b *bytes.Buffer, t Table) {
	k := max(headCols[t.Name], 1)
	for _, r := range t.Rows {
		head := strings.Join(r[:min(k, len(r))], "  ")
		if t.Columns[0] == "rank" {
			head = "#" + head
		}
		// Short pairs share a paragraph; a long one (a list) has its own.
		var short, long []string
		for i := k; i < len(r); i++ {
			if r[i] == "" {
				continue
			}
			p := strings.ReplaceAll(t.Columns[i], "_", " ") + " " + r[i]
			if t.Columns[i] == "reason" {
				// The one line an analyst repeats: right under the heading.
				long = append([]string{r[i]}, long...)
				continue
			}
			if utf8.RuneCountInString(p) <= 32 {
				short = append(short, p)
			} else {
				long = append(long, p)
			}
		}
		b.WriteString("\n")
		wrap(b, head, "", "    ")
		if len(long) > 0 && slices.Contains(t.Columns, "reason") && r[slices.Index(t.Columns, "reason")] != "" {
			wrap(b, long[0], "    ", "    ")
			long = long[1:]
		}
		if len(short) > 0 {
			wrap(b, strings.Join(short, ", "), "    ", "    ")
		}
		for _, p := range long {
			wrap(b, p, "    ", "      ")
		}
	}
}

func followupText(b *bytes.Buffer, scanners []Scanner) {
	for _, s := range scanners {
		b.WriteString("\n")
		wrap(b, fmt.Sprintf("%s (%s, %s .. %s)", s.Src, s.Kind, s.First, s.Last), "", "    ")
		if s.FilterFile != "" {
			b.WriteString("  flow-nfilter definition (save as a file):\n")
			for _, l := range strings.Split(strings.TrimRight(s.FilterFile, "\n"), "\n") {
				wrap(b, l, "    ", "      ")
			}
		}
		for _, c := range []string{s.FlowTools, s.Nfdump, s.FollowUpCmd} {
			if c != "" {
				command(b, c)
			}
		}
	}
}

// command prints a shell command indented, continued with " \" at spaces
// outside quotes when it is wider than the text, so a paste still runs.
func command(b *bytes.Buffer, c string) {
	const indent, cont = "    ", "      "
	var words []string
	start, quote := 0, rune(0)
	for i, r := range c {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote == 0 && (r == '\'' || r == '"'):
			quote = r
		case quote == 0 && r == ' ':
			words = append(words, c[start:i])
			start = i + 1
		}
	}
	words = append(words, c[start:])
	line := indent
	first := true
	for _, w := range words {
		if w == "" {
			continue
		}
		if !first && utf8.RuneCountInString(line)+1+utf8.RuneCountInString(w)+2 > TextWidth {
			b.WriteString(line + " \\\n")
			line = cont + w
			continue
		}
		if !first {
			line += " "
		}
		line += w
		first = false
	}
	b.WriteString(line + "\n")
}

// wrap writes s word by word in lines of at most TextWidth columns: the
// first line starts with first, the others with rest. A word longer than
// a line is broken.
func wrap(b *bytes.Buffer, s, first, rest string) {
	line := first
	n := utf8.RuneCountInString(line)
	empty := true
	flush := func() {
		b.WriteString(strings.TrimRight(line, " ") + "\n")
		line, n, empty = rest, utf8.RuneCountInString(rest), true
	}
	for _, w := range strings.Fields(s) {
		r := []rune(w)
		if !empty && n+1+len(r) > TextWidth {
			flush()
		}
		for empty && n+len(r) > TextWidth && n < TextWidth {
			// A word wider than a line: break it.
			room := TextWidth - n
			line += string(r[:room])
			r = r[room:]
			flush()
		}
		if !empty {
			line += " "
			n++
		}
		line += string(r)
		n += len(r)
		empty = false
	}
	if !empty {
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
}
