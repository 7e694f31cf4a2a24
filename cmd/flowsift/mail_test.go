package main

import (
	"net/mail"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowsift/flowsift/internal/fixture"
)

// --mail-from sets a real address; without it the sender is flowsift at
// this host, a valid address; a value that is no address is refused
// before any input is read. The text part fits 80 columns, the HTML part
// has inline styles only.
func TestReportMailFromAndParts(t *testing.T) {
	archive := filepath.Join("..", "..", "samples", "archive")
	for _, c := range []struct {
		flag []string
		want string
	}{{[]string{"--mail-from", "Flow Reports <reports@example.org>"}, "reports@example.org"}, {nil, "flowsift@"}} {
		args := append([]string{"report", "--generated-at", "2026-11-22T06:00:00Z", sampleLocal, "--mail", "--to", "noc@example.org"}, c.flag...)
		code, out, stderr := runCLI(t, "", append(args, archive)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		msg, err := mail.ReadMessage(strings.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		from, err := mail.ParseAddress(msg.Header.Get("From"))
		if err != nil || !strings.HasPrefix(from.Address, c.want) {
			t.Fatalf("From %q (%v), want %s...", msg.Header.Get("From"), err, c.want)
		}
		if subj := msg.Header.Get("Subject"); !strings.HasPrefix(subj, "flowsift 2026-11-20T00:00:01Z .. 2026-11-20T06:03:57Z: 3 local scanning, 0 answered outside scans, ") {
			t.Errorf("default subject %q", subj)
		}
		for _, p := range fixture.MailParts(t, msg) {
			body := p.Body
			switch ct := p.Type; {
			case strings.HasPrefix(ct, "text/plain"):
				for _, l := range strings.Split(string(body), "\r\n") {
					if len([]rune(l)) > 80 {
						t.Errorf("text part line of %d columns: %q", len([]rune(l)), l)
					}
				}
				if !strings.Contains(string(body), "LOCAL HOSTS THAT SCAN") {
					t.Error("text part lacks the findings")
				}
			case strings.HasPrefix(ct, "text/html"):
				if strings.Contains(string(body), "<style") || strings.Contains(string(body), "<svg") || !strings.Contains(string(body), `style="`) {
					t.Error("HTML part is not inline-styled")
				}
			}
		}
	}
	code, _, stderr := runCLI(t, "", "report", "--mail", "--to", "noc@example.org", "--mail-from", "flowsift", archive)
	if code != exitUsage || !strings.Contains(stderr, "not a mail address") {
		t.Errorf("--mail-from flowsift: exit %d, %q", code, stderr)
	}
}
