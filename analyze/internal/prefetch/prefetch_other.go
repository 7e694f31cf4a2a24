//go:build !amd64 && !arm64

package prefetch

import "unsafe"

// Line does nothing here: there is no prefetch instruction to call.
func Line(p unsafe.Pointer) {}
