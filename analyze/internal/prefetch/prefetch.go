// Package prefetch asks the processor to bring a cache line in ahead of
// its use. The detectors probe tables far larger than the caches for every
// flow, each probe a cache miss; a load issued a few flows ahead would
// make the processor wait for it (a load retires in order), a prefetch
// does not. Go has no portable prefetch, hence a few instructions of
// assembly on amd64 and arm64, and nothing elsewhere.
package prefetch
