package cluster_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay/cluster"
	"github.com/pushlab/pushlab/relay/cluster/clustertest"
)

func TestWireMessagesRoundTrip(t *testing.T) {
	kinds := map[cluster.Kind]bool{}
	for _, m := range clustertest.WireSamples() {
		b, err := cluster.Encode(m)
		require.NoError(t, err)
		back, err := cluster.Decode(b)
		require.NoError(t, err)
		require.Empty(t, cmp.Diff(m, back), "%s", m.Kind())
		kinds[m.Kind()] = true
	}
	for _, k := range []cluster.Kind{cluster.KindConnOpened, cluster.KindConnFrame, cluster.KindConnClosed,
		cluster.KindDeliver, cluster.KindClose, cluster.KindSendRequest, cluster.KindSendAnswer, cluster.KindPartitionMoved, cluster.KindCatalog, cluster.KindTokenMoved} {
		require.True(t, kinds[k], "WireSamples has no %s", k)
	}
}

// The encoding is what other nodes of the same version read: pinned.
func TestWireEncodingIsPinned(t *testing.T) {
	b, err := cluster.Encode(cluster.ConnFrame{Partition: 2, Gateway: "node-a", Conn: 7, Frame: []byte(`{"op":"ping"}`)})
	require.NoError(t, err)
	require.JSONEq(t, `{"v":1,"kind":"connFrame","body":{"partition":2,"gateway":"node-a","conn":7,"frame":"eyJvcCI6InBpbmcifQ=="}}`, string(b))
}

func TestDecodeRefusesWhatItCannotRead(t *testing.T) {
	_, err := cluster.Decode([]byte(`{"v":2,"kind":"connOpened","body":{"gateway":"a","conn":1}}`))
	require.ErrorIs(t, err, cluster.ErrWireVersion)
	for _, bad := range []string{
		`{"v":1,"kind":"bogus","body":{}}`,
		`{"v":1,"kind":"connOpened"}`,
		`{"v":1,"kind":"connOpened","body":{"conn":"seven"}}`,
		`not json`,
	} {
		_, err := cluster.Decode([]byte(bad))
		require.Error(t, err, bad)
		require.NotErrorIs(t, err, cluster.ErrWireVersion, bad)
	}
}

func TestSubjects(t *testing.T) {
	require.Equal(t, "pushlab.prod.p.17", cluster.PartitionSubject("prod", 17))
	require.Equal(t, "pushlab.prod.gw.node-1", cluster.GatewaySubject("prod", "node-1"))
	require.NoError(t, cluster.CheckSubjectToken("node_1-A"))
	for _, bad := range []string{"", "a.b", "a*", ">", "a b", string(make([]byte, 65))} {
		require.Error(t, cluster.CheckSubjectToken(bad), "%q", bad)
	}
}
