//go:build !amd64 && !arm64

package prefetch

import "unsafe"

// line does nothing where this package has no instruction for it.
func line(unsafe.Pointer) {}
