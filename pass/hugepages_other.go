//go:build !linux

package pass

func threadCPU() (int64, bool) { return 0, false }

func adviseHuge([]byte) bool { return false }
