package sender

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/internal/testca"
	"github.com/pushlab/pushlab/relay"
)

// TestCheckCredentials checks both APIs' credentials against a fakefcm on TLS with the test CA:
// good ones pass and deliver nothing (a validate-only or dry-run send to a topic); a service
// account whose key fakefcm never issued fails at the OAuth token endpoint, and a wrong server
// key at the legacy API, each saying so in words without any secret.
func TestCheckCredentials(t *testing.T) {
	b := newBenchTLS(t, 5*time.Second, testca.New(t))
	ctx := context.Background()
	for _, cert := range []relay.Certificate{b.v1, b.legacy} {
		require.NoError(t, b.pool.Check(ctx, cert), cert.API())
	}
	recs, err := b.cc.Messages(ctx, fakefcm.RecordFilter{})
	require.NoError(t, err)
	require.Len(t, recs, 2, "one validate-only send per API")
	for _, r := range recs {
		require.Equal(t, CheckTopic, r.Topic)
		require.Equal(t, fakefcm.FateValidateOnly, r.Fate, "nothing is delivered")
	}

	foreign := b.v1
	foreign.ID, foreign.ServiceAccount = 5, secret.New(testca.ForeignServiceAccount(t, b.creds.ServiceAccount))
	err = b.pool.Check(ctx, foreign)
	require.Error(t, err)
	oauthErr := err
	require.Contains(t, err.Error(), "the OAuth token endpoint refused the service account (HTTP 401, invalid_client)")
	require.Contains(t, err.Error(), "fakefcm issued no service account with this key")

	badKey := b.legacy
	badKey.ID, badKey.ServerKey = 6, secret.New("AAAA-not-a-key-0123456789")
	err = b.pool.Check(ctx, badKey)
	require.EqualError(t, err, "the legacy API refused the server key (401 Unauthorized)")

	for _, e := range []error{oauthErr, err} {
		require.NotContains(t, e.Error(), "PRIVATE KEY")
		require.NotContains(t, e.Error(), "ya29.")
	}
	recs, err = b.cc.Messages(ctx, fakefcm.RecordFilter{})
	require.NoError(t, err)
	require.Len(t, recs, 2, "refused credentials reach no send")
}
