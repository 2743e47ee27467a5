package pgstore

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/pgtest"
	"github.com/pushlab/pushlab/relay/cluster"
	"github.com/pushlab/pushlab/relay/cluster/clustertest"
)

// emptyTables returns a function that opens the lease table of one fresh database, emptied
// before each use: a database per suite, an empty table per subtest.
func emptyTables(t *testing.T) func(t *testing.T) *LeaseTable {
	dsn := pg.Database(t)
	s := openStore(t, dsn)
	conn, err := pgx.Connect(context.Background(), dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return func(t *testing.T) *LeaseTable {
		require.NoError(t, pgtest.Empty(context.Background(), conn, "schema_version"))
		return s.LeaseTable()
	}
}

func TestLeaseTableConformance(t *testing.T) {
	open := emptyTables(t)
	clustertest.RunLeaseTable(t, func(t *testing.T) cluster.LeaseTable { return open(t) })
}

func TestMembersConformance(t *testing.T) {
	open := emptyTables(t)
	clustertest.RunMembers(t, func(t *testing.T) cluster.Members { return open(t) })
}
