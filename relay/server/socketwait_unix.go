//go:build unix

package server

import (
	"errors"
	"net"
	"syscall"
)

// plainSocket is a connection's socket when it is a plain TCP one (not TLS), else nil.
func plainSocket(conn net.Conn) syscall.RawConn {
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return nil
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}

// waitReadable waits until the socket has bytes to read, has ended, has failed or was closed:
// whatever ReadMessage will then find without waiting. It peeks rather than reads, so the bytes
// stay for the WebSocket reader.
func waitReadable(raw syscall.RawConn) {
	var b [1]byte
	// The socket is non-blocking (Go's poller keeps it so): the peek answers EAGAIN at once when
	// nothing waits, and raw.Read then parks until the poller sees bytes.
	_ = raw.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK)
		return !errors.Is(err, syscall.EAGAIN)
	})
}
