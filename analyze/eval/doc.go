// Package eval scores the detectors against the samples generator's ground
// truth; it holds only tests and benchmarks.
package eval
