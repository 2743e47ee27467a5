package server

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/fakefcm/control"
)

func TestParseFileConfig(t *testing.T) {
	fc, err := ParseFileConfig("fakefcm.yaml", []byte(`
seed: 9
behaviour:
  latency: 150ms
  loss: 0.1
  throttles: {mode: reject, devicePerMinute: 100, collapsibleRefill: 2m}
projects:
  - projectId: demo
    senderId: "123"
    packageNames: [com.example.im]
    serviceAccountFile: creds/sa.json
`))
	require.NoError(t, err)
	require.Equal(t, uint64(9), fc.Seed)
	require.Equal(t, 150*time.Millisecond, fc.Behaviour.Latency.D())
	require.Equal(t, fakefcm.ThrottleReject, fc.Behaviour.Throttles.Mode)
	require.Equal(t, 2*time.Minute, fc.Behaviour.Throttles.CollapsibleRefill.D())
	require.Equal(t, "creds/sa.json", fc.Projects[0].ServiceAccountFile)
}

func TestParseFileConfigNamesWhereItIsWrong(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"behaviour:\n  latncy: 1s\n", "f.yaml:2:3:"},
		{"behaviour:\n  latency: soon\n", "f.yaml:2:12:"},
		{"behaviour:\n  loss: 3\n", "loss 3"},
		{"behaviour:\n  throttles: {mode: maybe}\n", `throttle mode "maybe"`},
		{"projects:\n  - senderId: \"1\"\n", "projectId is required"},
	} {
		_, err := ParseFileConfig("f.yaml", []byte(tc.body))
		require.Error(t, err, tc.body)
		require.Contains(t, err.Error(), "f.yaml", tc.body)
		require.Contains(t, err.Error(), tc.want, tc.body)
	}
}

func TestProvisionWritesCredentialsForOwnerOnly(t *testing.T) {
	dir := t.TempDir()
	srv, err := New(Config{BaseURL: "http://127.0.0.1:1"})
	require.NoError(t, err)
	defer srv.Close()
	sa, key := filepath.Join(dir, "sa.json"), filepath.Join(dir, "key.txt")
	require.NoError(t, srv.Provision(&FileConfig{Projects: []ProjectFile{{ProjectID: "demo", ServiceAccountFile: sa, ServerKeyFile: key}}}))
	info, err := os.Stat(sa)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	b, err := os.ReadFile(sa)
	require.NoError(t, err)
	var acct control.ServiceAccount
	require.NoError(t, json.Unmarshal(b, &acct))
	require.Equal(t, "http://127.0.0.1:1/token", acct.TokenURI)
	k, err := os.ReadFile(key)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(k), "AAAA"))
}
