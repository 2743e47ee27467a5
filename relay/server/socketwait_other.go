//go:build !unix

package server

import (
	"net"
	"syscall"
)

// plainSocket is nil where a socket cannot be peeked at: connections are read as over TLS, by a
// goroutine that waits in the WebSocket reader.
func plainSocket(net.Conn) syscall.RawConn { return nil }

// waitReadable is never called without a plain socket.
func waitReadable(syscall.RawConn) {}
