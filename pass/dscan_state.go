package pass

// LoadTrimmed reports what the last LoadState dropped to keep every
// destination list within D (default mode; the compat engine keeps what
// flow-dscan keeps and reports nothing).
func (d *Dscan) LoadTrimmed() (sources int, dests uint64) {
	if t, ok := d.eng.(interface{ LoadTrimmed() (int, uint64) }); ok {
		return t.LoadTrimmed()
	}
	return 0, 0
}
