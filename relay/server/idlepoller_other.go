//go:build !linux

package server

// idlePoller is Linux's (epoll); elsewhere each idle connection keeps a goroutine that waits
// for its bytes.
type idlePoller struct{}

// newIdlePoller makes no poller here: connections are read without one.
func newIdlePoller(func(*wsConn)) (*idlePoller, error) { return nil, nil }

func (*idlePoller) park(*wsConn) bool { return false }
func (*idlePoller) unpark(*wsConn)    {}
func (*idlePoller) close()            {}
