// Package names prints file names (and other text taken from input) in
// messages so that they cannot forge a line: a name with a newline, a
// control character or bytes that are not UTF-8 would otherwise break the
// run summary's one-line-per-item layout or write raw bytes to a terminal.
package names

import (
	"strconv"
	"strings"
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
	return (s == "" || s[0] != '"') && printable(s)
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) && r != ' ' {
			return false
		}
	}
	return true
}

// OneLine returns a message with every character that is not printable
// (a newline, a control byte, bytes that are not UTF-8) escaped as in a
// Go string, so that the message stays one line whatever names it holds.
func OneLine(s string) string {
	if printable(s) {
		return s
	}
	q := strconv.Quote(s)
	return strings.ReplaceAll(q[1:len(q)-1], `\"`, `"`)
}
