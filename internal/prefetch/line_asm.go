//go:build amd64 || arm64

package prefetch

// line starts fetching the cache line that holds the address addr. It takes an address, not a
// pointer, so that neither the race detector's pointer checks nor the collector ever see one
// made from a line past an object's end.
func line(addr uintptr)
