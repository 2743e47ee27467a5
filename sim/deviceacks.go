package sim

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/pushlab/pushlab/relay"
)

// The app's acknowledgements. An app acknowledges a live message (ack {seq}: it has every
// message up to seq) once it has stored it; by default it does so at once. HoldAcks makes it slow:
// messages keep coming in, their acks wait for ReleaseAcks, which may send them late, in part, or
// newest first. What it never acknowledged it never stored: when its connection or its session
// ends, or its process dies, while acks are held, they are never sent, and the app forgets the
// messages they were for, which its next login syncs again.

// HoldAcks has the app hold its acks from now: it goes on taking msg frames in (observed as ever)
// but acknowledges none of them until ReleaseAcks. It holds until its connection (the one it is
// on, or with none, the next) ends, its session ends (logout, kick) or its process dies; a new
// connection acknowledges at once again.
func (d *Device) HoldAcks() {
	defer d.lifecycle("holdAcks")
	d.holdingAcks = true
}

// ReleaseAcks sends up to n of the acks the app holds (n <= 0: all of them): the oldest first, or
// the newest first when reverse. Since an ack covers every message up to its seq, a newer ack
// sent first acknowledges the older ones too, and the older acks that follow acknowledge nothing
// new. The app goes on holding the acks of messages still to come. It returns the seqs of the
// acks it sent, in the order sent.
func (d *Device) ReleaseAcks(n int, reverse bool) []uint64 {
	held := d.heldAcks
	if n <= 0 || n > len(held) {
		n = len(held)
	}
	var sent []uint64
	if reverse {
		sent = slices.Clone(held[len(held)-n:])
		slices.Reverse(sent)
		d.heldAcks = held[:len(held)-n]
	} else {
		sent = slices.Clone(held[:n])
		d.heldAcks = held[n:]
	}
	defer d.lifecycle(releaseDetail(sent, reverse, len(d.heldAcks)))
	for _, s := range sent {
		d.sendAck(s)
	}
	return sent
}

// releaseDetail says what a ReleaseAcks sent: "releaseAcks (seq 3, 2 newest first; 1 still held)".
func releaseDetail(sent []uint64, reverse bool, left int) string {
	if len(sent) == 0 {
		return "releaseAcks (none held)"
	}
	seqs := make([]string, len(sent))
	for i, s := range sent {
		seqs[i] = strconv.FormatUint(s, 10)
	}
	order := "oldest first"
	if reverse {
		order = "newest first"
	}
	return fmt.Sprintf("releaseAcks (seq %s %s; %d still held)", strings.Join(seqs, ", "), order, left)
}

// HeldAcks lists the seqs of the acks the app holds, oldest first (the device's own slice: do not
// modify).
func (d *Device) HeldAcks() []uint64 { return d.heldAcks }

// ack acknowledges the messages up to seq, or holds the ack while the app holds its acks.
func (d *Device) ack(seq uint64) {
	if d.holdingAcks {
		d.heldAcks = append(d.heldAcks, seq)
		return
	}
	d.sendAck(seq)
}

// sendAck sends one ack: the app has stored the messages up to seq.
func (d *Device) sendAck(seq uint64) {
	d.stored = max(d.stored, seq)
	if d.link != nil {
		d.link.Send(relay.ClientFrame{Op: relay.OpAck, Seq: seq})
	}
}

// dropAcks ends holding: the acks still held are never sent, and the messages after the newest
// the app stored are forgotten, so that its next login syncs them again.
func (d *Device) dropAcks() {
	d.holdingAcks = false
	held := d.heldAcks
	d.heldAcks = nil
	if len(held) == 0 || d.lastSeq <= d.stored {
		return
	}
	from, to := d.stored+1, d.lastSeq
	d.lastSeq = d.stored
	what := fmt.Sprintf("seq %d", from)
	if to > from {
		what = fmt.Sprintf("seqs %d-%d", from, to)
	}
	d.observe(Observation{Kind: ObsForgot, Seq: d.stored,
		Detail: what + " never acknowledged: the app forgets them, to sync them again"})
}
