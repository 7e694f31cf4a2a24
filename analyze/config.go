package analyze

// Positive returns v, or d when v is zero or negative: the detectors'
// configurations give a default to every count, share and duration left
// unset (and to a negative one, which Validate refuses before a run). A
// setting whose zero means the default but whose negative means something
// (TRW's horizon: none) takes cmp.Or instead.
func Positive[T int | int64 | uint64 | float64](v, d T) T {
	if v <= 0 {
		return d
	}
	return v
}
