package main

import (
	"net/mail"
	"os"
)

// mailFrom is the From address of --mail: the flag, else flowsift at this
// host's name (a bare "flowsift" is no address: strict mail servers and
// filters refuse it), else flowsift@localhost.
func mailFrom(flag string) string {
	if flag != "" {
		return flag
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		if _, err := mail.ParseAddress("flowsift@" + h); err == nil {
			return "flowsift@" + h
		}
	}
	return "flowsift@localhost"
}
