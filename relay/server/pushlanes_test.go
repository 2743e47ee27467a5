package server

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
)

// One device's pushes all go to one send worker, in the order the relay decided them: FCM must
// see a newer notification after the older one it replaces.
func TestOneDevicesPushesKeepTheirOrder(t *testing.T) {
	lanes := newPushLanes(8, time.Now)
	devices := []relay.DeviceKey{{SDKAppID: 1, UserID: "alice", DeviceID: "phone"}, {SDKAppID: 1, UserID: "alice", DeviceID: "tablet"},
		{SDKAppID: 1, UserID: "bob", DeviceID: "phone"}, {SDKAppID: 2, UserID: "alice", DeviceID: "phone"}}
	for id := range uint64(40) {
		lanes.put(relay.Push{ID: id + 1, Device: devices[id%uint64(len(devices))]})
	}
	laneOf := map[relay.DeviceKey]int{}
	last := map[relay.DeviceKey]uint64{}
	used := map[int]bool{}
	for i, q := range lanes.lanes {
		for _, w := range q.items {
			p := w.p
			if l, ok := laneOf[p.Device]; ok {
				require.Equal(t, l, i, "%v's pushes are spread over lanes", p.Device)
			}
			laneOf[p.Device] = i
			require.Greater(t, p.ID, last[p.Device], "%v's pushes out of order", p.Device)
			last[p.Device] = p.ID
			used[i] = true
		}
	}
	require.Len(t, laneOf, len(devices))
	require.Greater(t, len(used), 1, "devices spread over the workers")
}
