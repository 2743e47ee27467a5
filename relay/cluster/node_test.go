package cluster_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/cluster"
)

// loopback carries a lone node's bus messages to itself (it owns what the test needs) and
// returns the frames its gateway wrote and the requests its cores made.
func loopback(t *testing.T, n *cluster.Node, now time.Time) ([]relay.OutFrame, []cluster.OutRequest) {
	t.Helper()
	var frames []relay.OutFrame
	var reqs []cluster.OutRequest
	for {
		rd := n.TakeReady()
		if rd.Empty() {
			return frames, reqs
		}
		frames = append(frames, rd.Gateway.Frames...)
		for _, o := range rd.Gateway.Publish {
			n.Receive(now, o.Msg, 0)
		}
		for _, pr := range rd.Parts {
			for _, o := range pr.Publish {
				n.Receive(now, o.Msg, 0)
			}
			reqs = append(reqs, pr.Requests...)
		}
	}
}

// An answer to a request made by a core the node no longer runs (its partition was dropped and
// acquired again, under a new epoch) is dropped: the new core numbers its sends afresh, so the
// old answer would otherwise finish the new core's send of the same number.
func TestAnAnswerForAFormerEpochsCoreIsDropped(t *testing.T) {
	const app, key = uint64(7), "node-test-secret-0123456789"
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	n, err := cluster.NewNode(cluster.NodeConfig{ID: "a", Cluster: "t", Partitions: 2})
	require.NoError(t, err)
	// alice lives in one partition, bob in the other; the node owns only alice's.
	alice, bob := "alice", "bob"
	pa := relay.PartitionOf(app, alice, 2)
	for relay.PartitionOf(app, bob, 2) == pa {
		bob += "x"
	}
	st := &relay.State{Apps: []relay.AppConfig{{SDKAppID: app, SecretKey: secret.New(key), LoginPolicy: relay.PolicyMulti}}}
	require.NoError(t, n.Acquired(now, cluster.Lease{Partition: pa, Node: "a", Epoch: 1}, st))
	loopback(t, n, now)

	frame := func(f relay.ClientFrame) []byte {
		b, err := json.Marshal(f)
		require.NoError(t, err)
		return b
	}
	login := frame(relay.ClientFrame{Op: relay.OpLogin, ID: 1, SDKAppID: app, UserID: alice, DeviceID: "phone", Platform: "android",
		UserSig: relay.MakeUserSig(key, relay.UserSigClaims{SDKAppID: app, UserID: alice, Expire: now.Add(time.Hour).Unix()})})
	send := func(conn relay.ConnID, id int64) []cluster.OutRequest {
		n.Frame(conn, frame(relay.ClientFrame{Op: relay.OpSend, ID: id, To: bob, Text: "hi"}))
		_, reqs := loopback(t, n, now)
		require.Len(t, reqs, 1)
		return reqs
	}
	n.Open(1)
	n.Frame(1, login)
	loopback(t, n, now)
	old := send(1, 2)[0]
	require.Equal(t, uint64(1), old.Request.Epoch)

	n.Dropped(pa)
	require.NoError(t, n.Acquired(now, cluster.Lease{Partition: pa, Node: "a", Epoch: 2}, st))
	n.Open(2)
	n.Frame(2, login)
	loopback(t, n, now)
	fresh := send(2, 3)[0]
	require.Equal(t, old.Token, fresh.Token, "the new core numbers its sends afresh")

	n.RemoteAnswered(now, old, cluster.SendAnswer{Code: relay.CodeUnavailable, Error: "stale"}, nil)
	frames, _ := loopback(t, n, now)
	require.Empty(t, frames, "the former core's answer does not finish the new core's send")

	n.RemoteAnswered(now, fresh, cluster.SendAnswer{Code: relay.OK}, nil)
	frames, _ = loopback(t, n, now)
	require.Len(t, frames, 1)
	require.Equal(t, relay.OK, frames[0].Frame.Code)
	require.Equal(t, int64(3), frames[0].Frame.ID)
}
