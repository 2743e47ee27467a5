package relay

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
)

// Partition places a core in a cluster (DESIGN.md §11): the core holds the users of partition
// Index out of Count, and only them. Count zero (the zero Partition) is a single relay that holds
// every user.
//
// A partitioned core keeps every app, certificate and group (they are few and every partition
// needs them), numbers its messages and pushes in a range of its own (so that two partitions never
// name two things alike in the shared store), and hands a message for a user of another partition
// to its driver as a RemoteSend instead of storing it.
type Partition struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

// MaxPartitions bounds Partition.Count: push IDs keep the partition in their top 16 bits.
const MaxPartitions = 1 << 15

// pushPartitionShift places a partition's push IDs: partition i numbers its pushes from i<<48.
const pushPartitionShift = 48

// Enabled reports whether the core is one partition of a cluster.
func (p Partition) Enabled() bool { return p.Count > 0 }

// Validate reports a partition that cannot be.
func (p Partition) Validate() error {
	switch {
	case p.Count < 0 || p.Count > MaxPartitions:
		return fmt.Errorf("partition count %d: must be between 1 and %d (0: not a cluster)", p.Count, MaxPartitions)
	case p.Count == 0 && p.Index != 0:
		return fmt.Errorf("partition index %d without a partition count", p.Index)
	case p.Count > 0 && (p.Index < 0 || p.Index >= p.Count):
		return fmt.Errorf("partition index %d: must be in [0, %d)", p.Index, p.Count)
	}
	return nil
}

// Holds reports whether the user k lives in this partition; every user does when the core is not
// partitioned.
func (p Partition) Holds(k UserKey) bool {
	return !p.Enabled() || PartitionOf(k.SDKAppID, k.UserID, p.Count) == p.Index
}

// counter names a counter of this partition in the store: "messages", or "messages.p7" for
// partition 7.
func (p Partition) counter(name string) string {
	if !p.Enabled() {
		return name
	}
	return fmt.Sprintf("%s.p%d", name, p.Index)
}

// firstPush is the number this partition's push IDs count from.
func (p Partition) firstPush() uint64 {
	if !p.Enabled() {
		return 0
	}
	return uint64(p.Index) << pushPartitionShift
}

// messageID names the n-th message of this partition in app sdkAppID: "app-n" for a single relay,
// "app-pI-n" in partition I. Message IDs are opaque to apps; this only keeps them unique.
func (p Partition) messageID(sdkAppID, n uint64) string {
	// Built by hand, not with fmt: one per message.
	b := make([]byte, 0, 48)
	b = strconv.AppendUint(b, sdkAppID, 10)
	b = append(b, '-')
	if p.Enabled() {
		b = append(b, 'p')
		b = strconv.AppendInt(b, int64(p.Index), 10)
		b = append(b, '-')
	}
	return string(strconv.AppendUint(b, n, 10))
}

// PushPartition is the partition whose core made the push id: a push's answer goes back to it.
func PushPartition(id uint64) int { return int(id >> pushPartitionShift) }

// PartitionOf is the partition, in [0, partitions), that holds the user userID of the app
// sdkAppID: FNV-1a 64 over the app ID's 8 bytes (big-endian) followed by the user ID's bytes,
// modulo partitions. Every device of a user lands in the user's partition, because the device
// takes no part in the hash.
//
// The function must never change: stored data is placed by it, and a changed hash would put users
// in partitions their data is not in. Its values are pinned by a test. Changing the partition
// count moves users too, so it is fixed for a cluster's life.
//
// PartitionOf panics if partitions is not positive: that is a configuration the caller validates.
func PartitionOf(sdkAppID uint64, userID string, partitions int) int {
	if partitions <= 0 {
		panic("relay: PartitionOf needs a positive partition count")
	}
	h := fnv.New64a()
	var app [8]byte
	binary.BigEndian.PutUint64(app[:], sdkAppID)
	_, _ = h.Write(app[:])         // a hash.Hash never fails to write
	_, _ = h.Write([]byte(userID)) // idem
	return int(h.Sum64() % uint64(partitions))
}

// ForPartition is the part of st a core of partition p is restored from: every app, certificate
// and group, the sessions, bindings, inboxes, receive options, push settings, profiles and
// pending pushes of p's users (a pending push only if p also made it), and p's counters. The
// state of a single relay (p not Enabled) is st itself.
func (st *State) ForPartition(p Partition) *State {
	if !p.Enabled() {
		return st
	}
	out := &State{
		Apps:         st.Apps,
		Certificates: st.Certificates,
		Groups:       st.Groups,
		Messages:     map[UserKey][]StoredMsg{},
		ReceiveOpts:  map[UserKey]map[string]string{},
		Counters:     map[string]uint64{},
		PushSettings: map[UserKey]PushSettings{},
	}
	for _, s := range st.Sessions {
		if p.Holds(s.Key.User()) {
			out.Sessions = append(out.Sessions, s)
		}
	}
	for _, b := range st.Bindings {
		if p.Holds(b.Key.User()) {
			out.Bindings = append(out.Bindings, b)
		}
	}
	for k, msgs := range st.Messages {
		if p.Holds(k) {
			out.Messages[k] = msgs
		}
	}
	for k, opts := range st.ReceiveOpts {
		if p.Holds(k) {
			out.ReceiveOpts[k] = opts
		}
	}
	for k, s := range st.PushSettings {
		if p.Holds(k) {
			out.PushSettings[k] = s
		}
	}
	for _, pr := range st.Profiles {
		if p.Holds(UserKey{pr.SDKAppID, pr.UserID}) {
			out.Profiles = append(out.Profiles, pr)
		}
	}
	for _, ps := range st.Pushes {
		if PushPartition(ps.Push.ID) == p.Index && p.Holds(ps.Push.Device.User()) {
			out.Pushes = append(out.Pushes, ps)
		}
	}
	for _, name := range []string{counterMessages, counterPushes} {
		if v, ok := st.Counters[p.counter(name)]; ok {
			out.Counters[p.counter(name)] = v
		}
	}
	out.Sessions = slices.Clip(out.Sessions)
	return out
}
