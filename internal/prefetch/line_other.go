//go:build !amd64 && !arm64

package prefetch

// line does nothing where this package has no instruction for it.
func line(uintptr) {}
