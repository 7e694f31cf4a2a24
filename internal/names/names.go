// Package names prints file names (and other text taken from input) in
// messages so that they cannot forge a line: a name with a newline, a
// control character or bytes that are not UTF-8 would otherwise break the
// run summary's one-line-per-item layout or write raw bytes to a terminal.
package names

import (
	"strconv"
	"unicode"
	"unicode/utf8"
)

// Quote returns s as it is when it is plain (valid UTF-8, every character
// printable, no quote or backslash at the start), else a Go-quoted string
// with the unprintable bytes escaped.
func Quote(s string) string {
	if Plain(s) {
		return s
	}
	return strconv.Quote(s)
}

// Plain reports whether s prints as itself on one line, and could not be
// mistaken for a quoted name.
func Plain(s string) bool {
	if !utf8.ValidString(s) || (s != "" && s[0] == '"') {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) && r != ' ' {
			return false
		}
	}
	return true
}
