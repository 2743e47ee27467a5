package live

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/relaycluster"
)

// holderOf reads the nodes' views: the node holding the partition, the newest lease where a
// view not yet updated still claims it, and nobody where no view does.
func TestHolderOfTakesTheNewestLease(t *testing.T) {
	view := func(node string, owned string) relaycluster.View {
		var v relaycluster.View
		require.NoError(t, json.Unmarshal([]byte(`{"nodeId":"`+node+`","partitions":16,"owned":`+owned+`}`), &v))
		return v
	}
	views := map[string]relaycluster.View{
		"n1": view("n1", `[{"partition":3,"epoch":4},{"partition":5,"epoch":2}]`),
		"n2": view("n2", `[{"partition":3,"epoch":7}]`), // took 3 over from n1, whose view lags
		"n3": view("n3", `[{"partition":9,"epoch":1}]`),
	}
	require.Equal(t, "n2", holderOf(views, 3))
	require.Equal(t, "n1", holderOf(views, 5))
	require.Equal(t, "n3", holderOf(views, 9))
	require.Empty(t, holderOf(views, 11))
	require.Empty(t, holderOf(nil, 3))
}
