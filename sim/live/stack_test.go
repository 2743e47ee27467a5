package live_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/fakefcm/control"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/sim"
	"github.com/pushlab/pushlab/sim/live"
)

// A stack restarted keeps what its store holds and answers at the same address, in memory and
// over loopback TCP; closed, it leaves no goroutine behind (TestMain's goleak).
func TestStackRestartKeepsTheStoreAtTheSameAddress(t *testing.T) {
	check := func(t *testing.T, cfg live.StackConfig) {
		ctx := context.Background()
		st, err := live.StartStack(ctx, cfg)
		require.NoError(t, err)
		defer func() { require.NoError(t, st.Close()) }()
		require.NoError(t, st.Admin.PutApp(ctx, relay.AppConfig{SDKAppID: 1400000001, SecretKey: secret.New("stack-secret-0123456789")}))
		before := st.RelayURL
		require.NoError(t, st.RestartRelay(ctx))
		require.Equal(t, before, st.RelayURL)
		var apps struct {
			Apps []relay.AppView `json:"apps"`
		}
		require.NoError(t, st.Admin.Do(ctx, "GET", "/admin/v1/apps", nil, &apps))
		require.Len(t, apps.Apps, 1, "the app outlived the restart")
		_, err = st.Control.CreateProject(ctx, control.CreateProjectRequest{ProjectID: "p", PackageNames: []string{"com.example.im"}})
		require.NoError(t, err, "fakefcm kept serving")
	}
	t.Run("memory", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) { check(t, live.StackConfig{InMemory: true, DB: live.MemoryDB}) })
	})
	t.Run("tcp", func(t *testing.T) { check(t, live.StackConfig{}) })
}

// A live world tells its tap of a relay restart as the virtual world does, once, after the old
// relay's last event and before the new one's first: a checker that follows connections drops
// the old relay's, whose numbers the new relay hands out again.
func TestLiveWorldTellsItsTapOfARestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var kinds []sim.TapKind
		tap := func(e sim.TapEvent) {
			mu.Lock()
			defer mu.Unlock()
			kinds = append(kinds, e.Kind)
		}
		w, err := live.Open(context.Background(), live.Config{DB: live.MemoryDB, InMemory: true, Settle: synctest.Wait, Tap: tap})
		require.NoError(t, err)
		app := relay.AppConfig{SDKAppID: 1400000001, SecretKey: secret.New("stack-secret-0123456789")}
		require.NoError(t, w.AddApp(app))
		require.NoError(t, w.RestartRelay())
		app.Name = "again"
		require.NoError(t, w.AddApp(app))
		require.NoError(t, w.Close())
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		at := slices.Index(kinds, sim.TapRestarted)
		require.Positive(t, at, "%v", kinds)
		require.Less(t, at, len(kinds)-1, "the new relay's events come after: %v", kinds)
		require.NotContains(t, kinds[at+1:], sim.TapRestarted, "once: %v", kinds)
	})
}

// A remote world refuses what a remote relay is not its to set, before it starts anything.
func TestRemoteWorldRefusesWhatIsNotItsToSet(t *testing.T) {
	remote := &live.Remote{RelayURL: "http://127.0.0.1:1", FCMURL: "http://127.0.0.1:2"}
	for _, tc := range []struct {
		name string
		cfg  live.Config
		want string
	}{
		{"relay rules", live.Config{Relay: relay.Config{PushTTL: 1}}, "rules are its operator's"},
		{"store", live.Config{DB: live.MemoryDB}, "leave DB and InMemory unset"},
		{"tap", live.Config{Tap: func(sim.TapEvent) {}}, "cannot be tapped"},
	} {
		tc.cfg.Remote = remote
		_, err := live.Open(context.Background(), tc.cfg)
		require.ErrorContains(t, err, tc.want, tc.name)
	}
	_, err := live.Open(context.Background(), live.Config{Remote: &live.Remote{}})
	require.ErrorContains(t, err, "needs the relay's URL")
}

// A remote world whose relay pushes to an FCM it cannot watch says so through the port: its
// features, and ErrUnsupported for what needs a fakefcm.
func TestRemoteWorldWithoutFakeFCMIsUnwatched(t *testing.T) {
	w, err := live.Open(context.Background(), live.Config{Remote: &live.Remote{RelayURL: "http://127.0.0.1:1"}})
	require.NoError(t, err)
	defer func() { require.NoError(t, w.Close()) }()
	require.Equal(t, sim.FCMUnwatched, w.Features().FCM)
	_, err = w.FCMRecords()
	require.True(t, errors.Is(err, sim.ErrUnsupported), "%v", err)
	require.True(t, errors.Is(w.AddFaults(nil), sim.ErrUnsupported))
	// Its certificates are the relay's own: the world only checks that one exists.
	_, err = w.AddCertificate(sim.CertificateSpec{ID: 1, SDKAppID: 1, PackageName: "p", API: "v1"})
	require.ErrorContains(t, err, "certificate 1 must exist on the relay")
	require.True(t, errors.Is(w.RestartRelay(), sim.ErrUnsupported))
	require.True(t, errors.Is(w.PartitionFCM(true), sim.ErrUnsupported))
}

// A world opened on a stack started already drives phones against it and leaves it serving when
// it closes; it refuses settings that are the stack's.
func TestWorldOnAStackStartedAlreadyLeavesItRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		st, err := live.StartStack(ctx, live.StackConfig{InMemory: true, DB: live.MemoryDB})
		require.NoError(t, err)
		defer func() { require.NoError(t, st.Close()) }()

		_, err = live.Open(ctx, live.Config{Stack: st, DB: live.MemoryDB})
		require.ErrorContains(t, err, "keeps its own rules")

		w, err := live.Open(ctx, live.Config{Stack: st, Settle: synctest.Wait})
		require.NoError(t, err)
		require.False(t, w.Features().RelayConfig, "the stack's rules were set when it started")
		require.NoError(t, w.AddApp(relay.AppConfig{SDKAppID: 1400000001, SecretKey: secret.New("stack-secret-0123456789")}))
		require.NoError(t, w.Close())

		var apps struct {
			Apps []relay.AppView `json:"apps"`
		}
		require.NoError(t, st.Admin.Do(ctx, "GET", "/admin/v1/apps", nil, &apps), "the stack still serves")
		require.Len(t, apps.Apps, 1)
	})
}
