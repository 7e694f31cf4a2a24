package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReportHoldsBackAServer: a DNS server answering 300 clients crosses
// dscan's host-scan threshold; the report lists the episode with the
// server's role and figures, holds it back, and --fail-on-findings exits
// 0. The same archive with a scanner added exits 1.
func TestReportHoldsBackAServer(t *testing.T) {
	var b strings.Builder
	b.WriteString("#:unix_secs,unix_nsecs,sysuptime,exaddr,dpkts,doctets,first,last,engine_type,engine_id,srcaddr,dstaddr,nexthop,input,output,srcport,dstport,prot,tos,tcp_flags,src_mask,dst_mask,src_as,dst_as\n")
	line := func(sec int, src string, sp int, dst string, dp int, proto, flags int) {
		fmt.Fprintf(&b, "%d,0,100000,127.0.0.1,1,80,100000,100000,0,0,%s,%s,0.0.0.0,0,0,%d,%d,%d,0,%d,0,0,0,0\n", sec, src, dst, sp, dp, proto, flags)
	}
	for i := range 600 {
		c := fmt.Sprintf("10.9.%d.%d", i%300/250, i%300%250+1)
		line(1700000000+i, c, 30000+i, "10.0.0.53", 53, 17, 0)
		line(1700000000+i, "10.0.0.53", 53, c, 30000+i, 17, 0)
	}
	dir := t.TempDir()
	server := filepath.Join(dir, "server.csv")
	if err := os.WriteFile(server, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "", "report", "-o", "-", "--format", "json", "--fail-on-findings", "--local", "10.0.0.0/8", server)
	if code != 0 {
		t.Fatalf("a held-back server: exit %d\n%s", code, errOut)
	}
	var m struct {
		Scanners []struct {
			Src, Severity, Role, Reason string
			HeldBack                    bool   `json:"held_back"`
			RoleWhy                     string `json:"role_figures"`
		}
		HostRoles []struct{ Addr, Role string } `json:"host_roles"`
	}
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Scanners) != 1 || m.Scanners[0].Src != "10.0.0.53" || !m.Scanners[0].HeldBack || m.Scanners[0].Severity != "info" ||
		m.Scanners[0].Role != "dns server" || !strings.HasPrefix(m.Scanners[0].RoleWhy, "dns server (answers from udp/53): peers 300 (>= 10)") ||
		!strings.HasPrefix(m.Scanners[0].Reason, "held back: 10.0.0.53 looks like a dns server") {
		t.Fatalf("scanners %+v", m.Scanners)
	}
	// A scanner beside it: 300 SYNs, no answer.
	for i := range 300 {
		line(1700000700+i/10, "192.0.2.66", 40000, fmt.Sprintf("10.8.%d.%d", i/250, i%250+1), 22, 6, 2)
	}
	both := filepath.Join(dir, "both.csv")
	if err := os.WriteFile(both, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, "", "report", "-o", "-", "--format", "json", "--fail-on-findings", "--local", "10.0.0.0/8", both); code != exitFindings {
		t.Fatalf("with a scanner: exit %d\n%s", code, errOut)
	}
}
