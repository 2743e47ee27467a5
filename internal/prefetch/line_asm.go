//go:build amd64 || arm64

package prefetch

import "unsafe"

// line starts fetching the cache line that holds p.
//
//go:noescape
func line(p unsafe.Pointer)
