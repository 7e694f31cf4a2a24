package report

import (
	"mime"
	"time"
)

func encodeHeader(s string) string { return mime.QEncoding.Encode("utf-8", s) }

func mailDate(rfc3339 string) string {
	t, err := time.Parse(time.RFC3339, rfc3339)
	if err != nil {
		return rfc3339
	}
	return t.UTC().Format(time.RFC1123Z)
}
