package sim

import (
	"math/rand/v2"
	"time"
)

// Link is one phone's network to the relay: its one-way latency and jitter, the share of app
// frames lost, and whether it is partitioned (frames dropped both ways, neither side told; the
// phone's FCM channel stays up). Latency and jitter are virtual-only: the live network is real.
type Link struct {
	Latency     time.Duration
	Jitter      time.Duration
	Loss        float64
	Partitioned bool
}

// Links holds every phone's link to the relay and the rules of crossing it. Both twins call it,
// so that a cut link, the loss draw, a close lost on a cut link and the reset that answers the
// phone's next send are decided in one place. It is not safe for concurrent use.
type Links struct {
	def Link
	of  map[*Device]Link
	rng *rand.Rand
}

// NewLinks gives every phone the default link until SetLink; rng draws losses and jitter.
func NewLinks(def Link, rng *rand.Rand) *Links {
	return &Links{def: def, of: map[*Device]Link{}, rng: rng}
}

// Of is the phone's link.
func (n *Links) Of(d *Device) Link {
	if l, ok := n.of[d]; ok {
		return l
	}
	return n.def
}

// Set gives a phone a link of its own.
func (n *Links) Set(d *Device, l Link) { n.of[d] = l }

// Cut reports whether nothing crosses the phone's link: its network is down or the link is
// partitioned.
func (n *Links) Cut(d *Device) bool {
	if !d.netUp {
		return true
	}
	if len(n.of) == 0 {
		return n.def.Partitioned
	}
	return n.Of(d).Partitioned
}

// Delay draws one crossing of the phone's link: its latency plus a uniform share of its jitter.
func (n *Links) Delay(d *Device) time.Duration {
	l := n.def
	if len(n.of) > 0 {
		l = n.Of(d)
	}
	if l.Jitter > 0 {
		return l.Latency + time.Duration(n.rng.Int64N(int64(l.Jitter)))
	}
	return l.Latency
}

// ConnectTimeout is how long the app's connection attempt over a partitioned link waits before it
// gives up: the attempt goes nowhere and nothing answers.
const ConnectTimeout = 10 * time.Second

// Dial decides whether the phone's connection attempt can leave: with its network down it fails
// at once ("no network", as the OS answers); over a partitioned link it goes nowhere, and the
// app's connect timeout ends it after wait ("no answer").
func (n *Links) Dial(d *Device) (ok bool, reason string, wait time.Duration) {
	switch {
	case !d.netUp:
		return false, "connect failed: no network", 0
	case n.Cut(d):
		return false, "connect failed: no answer", ConnectTimeout
	}
	return true, "", 0
}

// SendOutcome is what becomes of a frame the app sends.
type SendOutcome uint8

// The outcomes of a send.
const (
	// Deliver: the frame travels to the relay.
	Deliver SendOutcome = iota
	// Drop: the frame is lost (a cut link, or the loss draw) and nobody is told.
	Drop
	// Reset: the relay closed the connection while the close could not reach the phone; the
	// phone's TCP stack answers this frame with a reset, and the app learns its connection died.
	Reset
)

// Send decides what becomes of a frame the phone sends on a connection.
func (n *Links) Send(d *Device, c *ConnLink) SendOutcome {
	if n.Cut(d) {
		return Drop
	}
	if c.closeLost {
		c.closeLost = false
		return Reset
	}
	if loss := n.Of(d).Loss; loss > 0 && n.rng.Float64() < loss {
		return Drop
	}
	return Deliver
}

// RelayClosed is told that the relay closed the connection; it reports whether the phone hears of
// it. Over a cut link the close is lost, and the phone's next send gets a reset instead (Send).
func (n *Links) RelayClosed(d *Device, c *ConnLink) (told bool) {
	if n.Cut(d) {
		c.closeLost = true
		return false
	}
	return true
}

// ConnLink is one app connection's share of the link rules: whether a close from the relay was
// lost on a cut link.
type ConnLink struct {
	closeLost bool
}
