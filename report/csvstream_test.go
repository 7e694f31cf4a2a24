package report

import (
	"bytes"
	"encoding/csv"
	"testing"
)

// The CSV files stream: the tables of one row per episode, skip, flow or
// host make their rows on demand, and what CSV writes from them is byte
// for byte the made tables' CSV.
func TestCSVTablesStreamTheSameBytes(t *testing.T) {
	m := Build(hugeInput())
	lazy, made := m.CSVTables(), m.Tables()
	if len(lazy) != len(made) {
		t.Fatalf("%d streamed tables, %d made", len(lazy), len(made))
	}
	onDemand := map[string]bool{}
	for i := range lazy {
		l, w := lazy[i], made[i]
		if l.Row != nil {
			onDemand[l.Name] = true
			if l.Rows != nil {
				t.Errorf("%s: rows on demand and made both", l.Name)
			}
		}
		var a, b bytes.Buffer
		if err := CSV(&a, l); err != nil {
			t.Fatal(err)
		}
		cw := csv.NewWriter(&b)
		cw.Write(w.Columns)
		cw.WriteAll(w.Rows)
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("%s: streamed CSV differs (%d vs %d bytes)", l.Name, a.Len(), b.Len())
		}
		if l.NumRows() != len(w.Rows) {
			t.Errorf("%s: %d rows on demand, %d made", l.Name, l.NumRows(), len(w.Rows))
		}
	}
	for _, name := range []string{"scanners", "followup", "skipped", "excessive", "target_hosts", "suppress", "background_ports", "talkers_srcip_bytes"} {
		if !onDemand[name] {
			t.Errorf("%s is made whole before it is written", name)
		}
	}
	// A View without cuts still gives its rows to the renderers.
	for _, tb := range m.View(allRows) {
		if tb.Row != nil {
			t.Errorf("View(allRows) left %s on demand", tb.Name)
		}
	}
}
