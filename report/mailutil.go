package report

import (
	"fmt"
	"mime"
	"net/mail"
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

// checkAddr refuses what would break the header block (a line break would
// let a caller's value add headers such as Bcc) and what is no address:
// To must parse as an address list, From as one address (RFC 5322; a
// bare "flowsift" is refused by strict servers and spam filters).
func checkAddr(name, v string, list bool) error {
	if v == "" {
		return fmt.Errorf("mail: empty %s", name)
	}
	for _, r := range v {
		if r < ' ' || r == 0x7f {
			return fmt.Errorf("mail: control character in %s %q", name, v)
		}
	}
	var err error
	if list {
		_, err = mail.ParseAddressList(v)
	} else {
		_, err = mail.ParseAddress(v)
	}
	if err != nil {
		return fmt.Errorf("mail: %s %q is not a mail address: %v", name, v, err)
	}
	return nil
}

// CheckMail validates the From and To a Mail call will get, so a command
// can refuse bad addresses before reading any input.
func CheckMail(from, to string) error {
	if err := checkAddr("From", from, false); err != nil {
		return err
	}
	return checkAddr("To", to, true)
}
