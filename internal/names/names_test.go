package names

import "testing"

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/flows/2026/ft-v05.2026-11-20.0000+0000": "/flows/2026/ft-v05.2026-11-20.0000+0000",
		"with space.csv":   "with space.csv",
		"été.csv":          "été.csv",
		"a\nflows: 9 read": `"a\nflows: 9 read"`,
		"tab\there":        `"tab\there"`,
		"bad\xffutf8":      `"bad\xffutf8"`,
		"\x1b[31mred":      `"\x1b[31mred"`,
		`"looks quoted"`:   `"\"looks quoted\""`,
		"":                 "",
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestOneLine(t *testing.T) {
	for in, want := range map[string]string{
		`report: open "x": no such file`:             `report: open "x": no such file`,
		"open /flows/a\nflows: 9 read: no such file": `open /flows/a\nflows: 9 read: no such file`,
		"bad \xff byte": `bad \xff byte`,
	} {
		if got := OneLine(in); got != want {
			t.Errorf("OneLine(%q) = %s, want %s", in, got, want)
		}
	}
}
