package server

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/fakefcm/control"
	fcmserver "github.com/pushlab/pushlab/fakefcm/server"
	"github.com/pushlab/pushlab/internal/memnet"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/sender"
	"github.com/pushlab/pushlab/relay/sqlitestore"
)

// fcmBubble is a relay on SQLite that pushes through its real sender pool to a fakefcm on an
// in-memory network, for tests that follow a push all the way to FCM's verdict inside a
// synctest bubble.
type fcmBubble struct {
	*bubble
	fcmc  *control.Client            // fakefcm's control API
	creds control.ProjectCredentials // the fakefcm project the test certificate is for
}

// startFCMBubble starts fakefcm and the relay, and creates the test app with a certificate
// (certID) for a fakefcm project; everything is shut down when the test ends.
func startFCMBubble(t *testing.T) *fcmBubble {
	t.Helper()
	ctx := context.Background()
	store, err := sqlitestore.Open(filepath.Join(t.TempDir(), "relay.db"))
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })

	fcmLn := memnet.Listen()
	fcm, err := fcmserver.New(fcmserver.Config{BaseURL: "http://fakefcm.test", Core: fakefcm.Config{Seed: 2}})
	require.NoError(t, err)
	fcmHS := &http.Server{Handler: fcm.Handler()}
	go fcmHS.Serve(fcmLn)
	t.Cleanup(func() {
		fcm.Close()
		require.NoError(t, fcmHS.Shutdown(ctx))
	})
	fb := &fcmBubble{fcmc: &control.Client{BaseURL: "http://fakefcm.test", HTTP: fcmLn.HTTPClient()}}
	fb.creds, err = fb.fcmc.CreateProject(ctx, control.CreateProjectRequest{ProjectID: "demo"})
	require.NoError(t, err)

	pool := sender.New(sender.Config{Transport: &http.Transport{DialContext: fcmLn.Dial}})
	fb.bubble = startRelay(t, store, relay.Config{}, func(c *Config) { c.Sender = pool })
	fb.sender = nil // pushes go to fakefcm, not to a fake sender

	status, body := fb.admin("POST", "/admin/v1/apps", fmt.Sprintf(`{"sdkAppId":%d,"secretKey":%q}`, appID, appSecret))
	require.Equal(t, http.StatusCreated, status, body)
	status, body = fb.admin("POST", fmt.Sprintf("/admin/v1/apps/%d/certificates", appID),
		fmt.Sprintf(`{"id":%d,"packageName":"com.example.im","serviceAccount":%s,"endpoint":"http://fakefcm.test"}`, certID, fb.creds.ServiceAccount))
	require.Equal(t, http.StatusCreated, status, body)
	return fb
}

// registerDevice registers an app install with fakefcm and answers its FCM token.
func (fb *fcmBubble) registerDevice() string {
	fb.t.Helper()
	tok, err := fb.fcmc.RegisterDevice(context.Background(), fb.creds.SenderID, "com.example.im")
	require.NoError(fb.t, err)
	return tok
}
