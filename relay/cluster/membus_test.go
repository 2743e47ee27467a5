package cluster_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay/cluster"
	"github.com/pushlab/pushlab/relay/cluster/clustertest"
)

func TestMemBusBehaviour(t *testing.T) {
	clustertest.RunBus(t, func(*testing.T) (cluster.Bus, cluster.Bus) {
		b := cluster.NewMemBus()
		return b, b
	})
}

// MemBus is synchronous: a handler has run, in subscription order, when Publish returns, so a
// simulator driving it from one goroutine needs no pump.
func TestMemBusDeliversBeforePublishReturns(t *testing.T) {
	b := cluster.NewMemBus()
	var got []string
	for _, name := range []string{"first", "second"} {
		_, err := b.Subscribe("s", func(m cluster.Msg) { got = append(got, name+":"+string(m.Data)) })
		require.NoError(t, err)
	}
	data := []byte("x")
	require.NoError(t, b.Publish(context.Background(), "s", data))
	data[0] = 'y' // the handlers got copies
	require.Equal(t, []string{"first:x", "second:x"}, got)
}
