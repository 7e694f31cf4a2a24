package nfcapd

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/flowsift/flowsift/internal/fixture"
	"github.com/flowsift/flowsift/internal/nfv5"
)

// nfcapd -s 100 records flows of an exporter that announces no sampling
// as sampled 1 in 100 and multiplies their counters by 100. flowsift reads
// the counts as nfcapd stored them (equal to nfdump's) and reports the
// sampling in a note, without scaling them again.
func TestSampledCapture(t *testing.T) {
	nfdump := fixture.NeedProgram(t, "nfdump")
	recs := v5Flows()[:90]
	file := nfv5.CaptureWithNfcapdArgs(t, recs, "-s", "100")
	want := rawRecords(t, file)
	got, skips, err := decodeFile(t, file, true)
	if err != nil || len(got) != len(want) {
		t.Fatalf("%d flows, nfdump %d: %v", len(got), len(want), err)
	}
	for i := range got {
		if d := same(&got[i], &want[i]); d != "" {
			t.Fatalf("flow %d: %s", i, d)
		}
	}
	// nfcapd scaled the counters it stored by the default rate.
	out, err := exec.Command(nfdump, "-q", "-r", file, "-o", "raw", "-c", "1").Output()
	if err != nil || !strings.Contains(string(out), "Sampled") {
		t.Fatalf("nfdump does not show the flow as sampled: %v\n%s", err, out)
	}
	var notes []string
	for _, s := range skips {
		notes = append(notes, s.Reason+": "+s.Detail)
	}
	if len(skips) != 1 || skips[0].Reason != "sampled" || skips[0].Count != int64(len(recs)) || !strings.Contains(skips[0].Detail, "does not scale") || !strings.Contains(skips[0].Detail, "1 of every 100 packets") {
		t.Fatalf("notes %v", notes)
	}
}
