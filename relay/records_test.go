package relay_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
)

func TestStateSort(t *testing.T) {
	dev := func(app uint64, user, device string) relay.DeviceKey {
		return relay.DeviceKey{SDKAppID: app, UserID: user, DeviceID: device}
	}
	// The devices in the order Sort keeps: by app, then user, then device.
	devs := []relay.DeviceKey{dev(1, "b", "z"), dev(2, "a", "a"), dev(2, "a", "b"), dev(2, "b", "a")}
	u := relay.UserKey{SDKAppID: 1, UserID: "u"}
	want := relay.State{
		Apps:         []relay.AppConfig{{SDKAppID: 1}, {SDKAppID: 2}, {SDKAppID: 3}},
		Certificates: []relay.Certificate{{ID: 4}, {ID: 5}, {ID: 6}},
		Sessions:     []relay.SessionState{{Key: devs[0]}, {Key: devs[1]}, {Key: devs[2]}, {Key: devs[3]}},
		Bindings:     []relay.Binding{{Key: devs[0]}, {Key: devs[1]}, {Key: devs[2]}, {Key: devs[3]}},
		Messages:     map[relay.UserKey][]relay.StoredMsg{u: {{Seq: 1}, {Seq: 2}, {Seq: 3}}},
		Groups:       []relay.Group{{SDKAppID: 1, ID: "z"}, {SDKAppID: 2, ID: "a"}, {SDKAppID: 2, ID: "b"}},
		Pushes:       []relay.PushState{{Push: relay.Push{ID: 7}}, {Push: relay.Push{ID: 8}}, {Push: relay.Push{ID: 9}}},
	}
	got := relay.State{
		Apps:         []relay.AppConfig{{SDKAppID: 3}, {SDKAppID: 1}, {SDKAppID: 2}},
		Certificates: []relay.Certificate{{ID: 6}, {ID: 4}, {ID: 5}},
		Sessions:     []relay.SessionState{{Key: devs[3]}, {Key: devs[1]}, {Key: devs[0]}, {Key: devs[2]}},
		Bindings:     []relay.Binding{{Key: devs[2]}, {Key: devs[3]}, {Key: devs[0]}, {Key: devs[1]}},
		Messages:     map[relay.UserKey][]relay.StoredMsg{u: {{Seq: 3}, {Seq: 1}, {Seq: 2}}},
		Groups:       []relay.Group{{SDKAppID: 2, ID: "b"}, {SDKAppID: 1, ID: "z"}, {SDKAppID: 2, ID: "a"}},
		Pushes:       []relay.PushState{{Push: relay.Push{ID: 9}}, {Push: relay.Push{ID: 7}}, {Push: relay.Push{ID: 8}}},
	}
	got.Sort()
	require.Empty(t, cmp.Diff(want, got))
}
