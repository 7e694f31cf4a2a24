package report

import (
	"io"
	"testing"
)

// BenchmarkMarkdown renders the hand-made model's Markdown: mostly the
// table writer's per-section cost, paid some two dozen times a report.
func BenchmarkMarkdown(b *testing.B) {
	m := handModel()
	b.ReportAllocs()
	for b.Loop() {
		if err := Markdown(io.Discard, m); err != nil {
			b.Fatal(err)
		}
	}
}
