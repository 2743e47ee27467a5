//go:build linux

package server

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/pushlab/pushlab/relay"
)

// idlePoller waits, for all idle plain-socket connections at once, until one has bytes to read
// (or has ended), so that an idle connection keeps no goroutine: a goroutine's stack and record
// were most of an idle connection's memory. One goroutine waits on an epoll instance, which Go's
// own poller in turn waits on, so no thread blocks in it. Each connection is armed one-shot:
// when it fires, the connection leaves the poller and a reader goroutine (ready) reads its frames
// and parks it again.
type idlePoller struct {
	ep    *os.File        // the epoll instance
	raw   syscall.RawConn // ep's file descriptor, held while in use
	ready func(*wsConn)   // starts a reader for a connection that has bytes to read or has ended
	done  chan struct{}   // closed once the waiting goroutine has returned

	mu     sync.Mutex
	parked map[relay.ConnID]*wsConn // armed, waiting for bytes
	closed bool
}

// idleEventBatch is how many readiness events one wake-up takes in at most.
const idleEventBatch = 128

// newIdlePoller starts a poller; ready is called, on the poller's goroutine, for each connection
// that has bytes to read.
func newIdlePoller(ready func(*wsConn)) (*idlePoller, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("idle poller: epoll_create1: %w", err)
	}
	// Non-blocking, so that os.NewFile hands the descriptor to Go's poller.
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("idle poller: set non-blocking: %w", err)
	}
	ep := os.NewFile(uintptr(fd), "epoll")
	raw, err := ep.SyscallConn()
	if err != nil {
		ep.Close()
		return nil, fmt.Errorf("idle poller: %w", err)
	}
	p := &idlePoller{ep: ep, raw: raw, ready: ready, done: make(chan struct{}), parked: map[relay.ConnID]*wsConn{}}
	go p.run()
	return p, nil
}

// run hands each connection that fires to ready until the poller is closed.
func (p *idlePoller) run() {
	defer close(p.done)
	events := make([]unix.EpollEvent, idleEventBatch)
	for {
		var n int
		var werr error
		// Go's poller parks this goroutine until the epoll instance has events (it is itself
		// readable then); epoll_wait with no timeout takes them without blocking.
		err := p.raw.Read(func(fd uintptr) bool {
			n, werr = unix.EpollWait(int(fd), events, 0)
			if errors.Is(werr, unix.EINTR) {
				n, werr = 0, nil
			}
			return werr != nil || n > 0
		})
		if err != nil || werr != nil {
			// Closed (or, never expected, broken): connections still parked are handed to
			// readers, which wait for their bytes in the WebSocket reader.
			p.mu.Lock()
			p.closed = true
			left := p.parked
			p.parked = nil
			p.mu.Unlock()
			for _, c := range left {
				p.ready(c)
			}
			return
		}
		for _, ev := range events[:n] {
			p.wake(relay.ConnID(uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32))
		}
	}
}

// park arms the connection: ready is called for it once it has bytes to read or has ended. It
// reports false, having left the connection alone, when the poller cannot wait for it (closed,
// or its socket is closed or refused): the caller then reads it as if there were no poller.
func (p *idlePoller) park(c *wsConn) bool {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return false
	}
	// In the map before it is armed: it may fire at once.
	p.parked[c.id] = c
	p.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT, Fd: int32(uint32(c.id)), Pad: int32(uint32(c.id >> 32))}
	var ctlErr error
	// Both descriptors are held open while in use, so that neither number can name another file.
	err := c.raw.Control(func(sock uintptr) {
		err := p.raw.Control(func(ep uintptr) {
			// Re-armed after it fired before; added the first time.
			ctlErr = unix.EpollCtl(int(ep), unix.EPOLL_CTL_MOD, int(sock), &ev)
			if errors.Is(ctlErr, unix.ENOENT) {
				ctlErr = unix.EpollCtl(int(ep), unix.EPOLL_CTL_ADD, int(sock), &ev)
			}
		})
		if ctlErr == nil {
			ctlErr = err
		}
	})
	if err == nil && ctlErr == nil {
		return true
	}
	// Not armed. If the connection's closing took it out of the map meanwhile, a reader has it.
	return p.takeConn(c.id) == nil
}

// wake hands a parked connection to a reader; it does nothing for one that is not parked.
func (p *idlePoller) wake(id relay.ConnID) {
	if c := p.takeConn(id); c != nil {
		p.ready(c)
	}
}

// unpark hands a connection whose socket was just closed to a reader if it is parked: a closed
// socket leaves the epoll instance silently, and the reader sees the end.
func (p *idlePoller) unpark(c *wsConn) { p.wake(c.id) }

func (p *idlePoller) takeConn(id relay.ConnID) *wsConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.parked[id]
	if !ok {
		return nil
	}
	delete(p.parked, id)
	return c
}

// close stops the poller and waits for its goroutine; connections still parked are handed to
// readers first.
func (p *idlePoller) close() {
	p.ep.Close()
	<-p.done
}
