package relay

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// TestUserSigClaimsWriteAsEncodingJSON holds the hand-written claims to encoding/json's bytes:
// a UserSig is signed over them, so one byte apart is a signature no other relay or SDK would
// make. User IDs are drawn to cover what needs escaping (quotes, backslashes, HTML characters,
// control characters, non-ASCII, invalid UTF-8) as well as plain IDs.
func TestUserSigClaimsWriteAsEncodingJSON(t *testing.T) {
	// Each character encoding/json escapes, once, then drawn IDs.
	for _, user := range []string{"alice", "a<b", "a>b", "a&b", `a"b`, `a\b`, "a\nb", "a\x00b", "a\x7fb", "é", "a\u2028b", "a\xffb"} {
		c := UserSigClaims{SDKAppID: 1400000001, UserID: user, Expire: 1_800_000_000}
		want, err := json.Marshal(c)
		require.NoError(t, err)
		require.Equal(t, string(want), string(appendClaims(nil, c)), "user %q", user)
	}
	rapid.Check(t, func(t *rapid.T) {
		user := rapid.OneOf(
			rapid.StringMatching(`[A-Za-z0-9_.@-]{0,20}`),
			rapid.String(),
			rapid.StringOf(rapid.SampledFrom([]rune{'a', '"', '\\', '<', '>', '&', '\n', 0x7f, 'é', 0x2028, 0xfffd})),
			rapid.Map(rapid.SliceOf(rapid.Byte()), func(b []byte) string { return string(b) }),
		).Draw(t, "user")
		c := UserSigClaims{SDKAppID: rapid.Uint64().Draw(t, "app"), UserID: user, Expire: rapid.Int64().Draw(t, "expire")}
		want, err := json.Marshal(c)
		require.NoError(t, err)
		require.Equal(t, string(want), string(appendClaims(nil, c)))

		back, err := parseClaims(want)
		require.NoError(t, err)
		var viaJSON UserSigClaims
		require.NoError(t, json.Unmarshal(want, &viaJSON))
		require.Equal(t, viaJSON, back)
	})
}

// TestUserSigClaimsReadAsEncodingJSON holds the claims' reader to encoding/json's answers on
// payloads that are not quite what a key writes: other orders, spaces, signs, extra fields,
// other cases, broken JSON.
func TestUserSigClaimsReadAsEncodingJSON(t *testing.T) {
	for _, p := range []string{
		`{"sdkAppId":1,"userId":"alice","expire":99}`,
		`{"userId":"alice","sdkAppId":1,"expire":99}`,
		`{"sdkAppId":1, "userId":"alice","expire":99}`,
		`{"sdkAppId":1,"userId":"alice","expire":+99}`,
		`{"sdkAppId":1,"userId":"alice","expire":-99}`,
		`{"sdkAppId":01,"userId":"alice","expire":99}`,
		`{"sdkAppId":1,"userId":"alice","expire":99,"x":1}`,
		`{"SDKAPPID":1,"userId":"alice","expire":99}`,
		`{"sdkAppId":1,"userId":"al\u0069ce","expire":99}`,
		`{"sdkAppId":1,"userId":"alice","expire":99}}`,
		`{"sdkAppId":1,"userId":"alice","expire":99`,
		`{"sdkAppId":-1,"userId":"alice","expire":99}`,
		`{"sdkAppId":18446744073709551616,"userId":"alice","expire":99}`,
		``,
	} {
		t.Run(p, func(t *testing.T) {
			var want UserSigClaims
			werr := json.Unmarshal([]byte(p), &want)
			got, err := parseClaims([]byte(p))
			require.Equal(t, werr == nil, err == nil, "error %v, encoding/json's %v", err, werr)
			if werr == nil {
				require.Equal(t, want, got)
			}
		})
	}
}

// TestAUserSigIsTheDocumentedFormat: a known answer, worked out apart from this code
// (base64url of the compact JSON claims, ".", base64url of their HMAC-SHA256 under the secret),
// so that a key and the functions built on it cannot drift together.
func TestAUserSigIsTheDocumentedFormat(t *testing.T) {
	const want = "eyJzZGtBcHBJZCI6MTQwMDAwMDAwMSwidXNlcklkIjoiYWxpY2UiLCJleHBpcmUiOjE4MDAwMDAwMDB9.2GSLGxActfG2drY-NRuAMkC8fsRLBQoSrWhp15_7NA0"
	c := UserSigClaims{SDKAppID: 1400000001, UserID: "alice", Expire: 1_800_000_000}
	key := NewUserSigKey("secret-0123456789")
	require.Equal(t, want, key.Make(c))
	require.Equal(t, want, MakeUserSig("secret-0123456789", c))
	got, err := key.Parse(want)
	require.NoError(t, err)
	require.Equal(t, c, got)
}

// TestAUserSigKeySignsAsTheSecretDoes holds a kept key to the secret it was made from, call
// after call: the same signatures as MakeUserSig, the same verdicts as VerifyUserSig.
func TestAUserSigKeySignsAsTheSecretDoes(t *testing.T) {
	const secret = "secret-0123456789"
	now := time.Unix(1_800_000_000, 0)
	key := NewUserSigKey(secret)
	other := MakeUserSig("other-secret-abcdef", UserSigClaims{SDKAppID: 1, UserID: "alice", Expire: now.Unix() + 60})
	for i := range 3 { // a kept key starts each signature afresh
		c := UserSigClaims{SDKAppID: 1, UserID: fmt.Sprintf("user-%d", i), Expire: now.Unix() + 60}
		s := key.Make(c)
		require.Equal(t, MakeUserSig(secret, c), s)
		require.NoError(t, key.Verify(s, 1, c.UserID, now))
		require.ErrorIs(t, key.Verify(s, 1, c.UserID, now.Add(61*time.Second)), ErrSigExpired)
		require.ErrorIs(t, key.Verify(s, 1, "bob", now), ErrSigMismatch)
		require.ErrorIs(t, key.Verify(other, 1, "alice", now), ErrSigForged)
		require.ErrorIs(t, key.Verify(s[:len(s)-2]+"zz", 1, c.UserID, now), ErrSigForged)
		require.ErrorIs(t, key.Verify("abc", 1, c.UserID, now), ErrSigMalformed)
	}
}

// TestAUserSigKeyPrintsNoSecret: the key's HMAC state signs as the secret does.
func TestAUserSigKeyPrintsNoSecret(t *testing.T) {
	key := NewUserSigKey("secret-0123456789")
	key.Make(UserSigClaims{SDKAppID: 1, UserID: "alice", Expire: 99})
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		require.Equal(t, "UserSigKey(redacted)", fmt.Sprintf(verb, key), verb)
	}
	require.Equal(t, "{UserSigKey(redacted)}", fmt.Sprintf("%v", struct{ K *UserSigKey }{key}))
}

// FuzzParseClaims holds the claims' reader to encoding/json on any payload: the same claims
// where encoding/json reads some, an error where it refuses.
func FuzzParseClaims(f *testing.F) {
	f.Add([]byte(`{"sdkAppId":1400000001,"userId":"alice","expire":1800000000}`))
	f.Add([]byte(`{"sdkAppId":01,"userId":"alice","expire":1e3}`))
	f.Add([]byte(`{"userId":"a\u003cb","sdkAppId":1,"expire":-5,"userId":"b"}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		var want UserSigClaims
		werr := json.Unmarshal(payload, &want)
		got, err := parseClaims(payload)
		if (werr == nil) != (err == nil) {
			t.Fatalf("%q: error %v, encoding/json's %v", payload, err, werr)
		}
		if werr == nil && got != want {
			t.Fatalf("%q: %+v, encoding/json's %+v", payload, got, want)
		}
	})
}
