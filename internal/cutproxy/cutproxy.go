// Package cutproxy is a loopback TCP proxy that can be cut: every connection through it closed
// and new ones refused, until it is healed. The live cluster twin puts one in front of NATS and
// one in front of PostgreSQL for each relay node, to cut a node off the bus or the database for
// real.
package cutproxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// Proxy forwards the connections it accepts on a loopback port to one target.
type Proxy struct {
	ln              net.Listener
	network, target string

	mu     sync.Mutex
	cut    bool
	closed bool
	conns  map[net.Conn]bool // both ends of every open forwarded connection
	wg     sync.WaitGroup
}

// Start listens on a free loopback port and forwards to target on network ("tcp" or "unix").
func Start(network, target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("proxy to %s: %w", target, err)
	}
	p := &Proxy{ln: ln, network: network, target: target, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's address (127.0.0.1:port).
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cut cuts the proxy (cut true): every connection through it is closed, and new ones are closed
// as soon as they are accepted. Cut(false) heals it: new connections are forwarded again.
func (p *Proxy) Cut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		p.closeAll()
	}
}

// Close stops the proxy, closing every connection through it, and waits for its goroutines.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	p.closeAll()
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

// closeAll closes every forwarded connection (p.mu held).
func (p *Proxy) closeAll() {
	for c := range p.conns {
		_ = c.Close()
	}
	clear(p.conns)
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		p.mu.Lock()
		refuse := p.cut || p.closed
		p.mu.Unlock()
		if refuse {
			_ = in.Close()
			continue
		}
		p.wg.Add(1)
		go p.forward(in)
	}
}

// forward dials the target for in and copies both ways until either side ends or the proxy is
// cut.
func (p *Proxy) forward(in net.Conn) {
	defer p.wg.Done()
	out, err := net.Dial(p.network, p.target)
	if err != nil {
		_ = in.Close()
		return
	}
	p.mu.Lock()
	if p.cut || p.closed { // cut while the target was dialled
		p.mu.Unlock()
		_ = in.Close()
		_ = out.Close()
		return
	}
	p.conns[in], p.conns[out] = true, true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(out, in)
	go pipe(in, out)
	<-done
	_ = in.Close()
	_ = out.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, in)
	delete(p.conns, out)
	p.mu.Unlock()
}
