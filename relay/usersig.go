package relay

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"time"

	"github.com/pushlab/pushlab/internal/jsonappend"
)

// UserSigClaims is what a UserSig vouches for.
type UserSigClaims struct {
	SDKAppID uint64 `json:"sdkAppId"`
	UserID   string `json:"userId"`
	// Expire is the Unix time (seconds) after which the signature is refused.
	Expire int64 `json:"expire"`
}

// Errors of VerifyUserSig, for errors.Is.
var (
	ErrSigMalformed = errors.New("usersig malformed")
	ErrSigForged    = errors.New("usersig signature does not match")
	ErrSigExpired   = errors.New("usersig expired")
	ErrSigMismatch  = errors.New("usersig made for another app or user")
)

var b64 = base64.RawURLEncoding

// UserSigKey makes and checks the UserSigs of one app's secret key:
// base64url(JSON claims) + "." + base64url(HMAC-SHA256(secret, first part)). It keeps the
// HMAC keyed, which MakeUserSig and VerifyUserSig do afresh on every call: a relay checks a
// UserSig at every login, and a simulated phone makes one for each. It is not safe for
// concurrent use.
type UserSigKey struct {
	mac hash.Hash
}

// NewUserSigKey returns the key for an app's secret.
func NewUserSigKey(secret string) *UserSigKey {
	return &UserSigKey{mac: hmac.New(sha256.New, []byte(secret))}
}

// String and GoString keep the keyed HMAC's state, which signs as the secret does, out of
// anything that prints a key.
func (k *UserSigKey) String() string   { return "UserSigKey(redacted)" }
func (k *UserSigKey) GoString() string { return k.String() }

// sign appends the HMAC of first to dst.
func (k *UserSigKey) sign(dst []byte, first string) []byte {
	k.mac.Reset()
	k.mac.Write([]byte(first))
	return k.mac.Sum(dst)
}

// Make signs claims.
func (k *UserSigKey) Make(c UserSigClaims) string {
	var buf [128]byte
	payload := appendClaims(buf[:0], c)
	var out [256]byte
	first := b64.AppendEncode(out[:0], payload)
	var mac [sha256.Size]byte
	sig := b64.AppendEncode(append(first, '.'), k.sign(mac[:0], string(first)))
	return string(sig)
}

// Parse checks a UserSig's shape and signature and returns its claims, without judging expiry
// or whom it names.
func (k *UserSigKey) Parse(sig string) (UserSigClaims, error) {
	var c UserSigClaims
	first, mac, ok := strings.Cut(sig, ".")
	if !ok || first == "" || mac == "" {
		return c, fmt.Errorf("%w: expected base64url(claims).base64url(hmac)", ErrSigMalformed)
	}
	var gotBuf [64]byte
	got, err := b64.AppendDecode(gotBuf[:0], []byte(mac))
	if err != nil {
		return c, fmt.Errorf("%w: signature part is not base64url", ErrSigMalformed)
	}
	var payloadBuf [128]byte
	payload, err := b64.AppendDecode(payloadBuf[:0], []byte(first))
	if err != nil {
		return c, fmt.Errorf("%w: claims part is not base64url", ErrSigMalformed)
	}
	c, jerr := parseClaims(payload)
	var want [sha256.Size]byte
	if !hmac.Equal(got, k.sign(want[:0], first)) {
		return c, ErrSigForged
	}
	if jerr != nil {
		return c, fmt.Errorf("%w: claims are not JSON: %v", ErrSigMalformed, jerr)
	}
	return c, nil
}

// Verify checks that sig is a valid, unexpired signature by this key for exactly this app and
// user.
func (k *UserSigKey) Verify(sig string, sdkAppID uint64, userID string, now time.Time) error {
	c, err := k.Parse(sig)
	if errors.Is(err, ErrSigForged) && (c.SDKAppID != sdkAppID || c.UserID != userID) && c.UserID != "" {
		// Signed with another key for another app or user: say so, it is the likelier mistake.
		return fmt.Errorf("%w: it names app %d user %q", ErrSigMismatch, c.SDKAppID, c.UserID)
	}
	if err != nil {
		return err
	}
	if c.SDKAppID != sdkAppID || c.UserID != userID {
		return fmt.Errorf("%w: signed for app %d user %q", ErrSigMismatch, c.SDKAppID, c.UserID)
	}
	if now.Unix() > c.Expire {
		return fmt.Errorf("%w at %s", ErrSigExpired, time.Unix(c.Expire, 0).UTC().Format(time.RFC3339))
	}
	return nil
}

// MakeUserSig signs claims with an app's secret key (UserSigKey.Make).
func MakeUserSig(secret string, c UserSigClaims) string { return NewUserSigKey(secret).Make(c) }

// ParseUserSig checks a UserSig's shape and signature and returns its claims, without judging
// expiry or whom it names (UserSigKey.Parse).
func ParseUserSig(secret, sig string) (UserSigClaims, error) { return NewUserSigKey(secret).Parse(sig) }

// VerifyUserSig checks that sig is a valid, unexpired signature by the app's secret for exactly
// this app and user (UserSigKey.Verify).
func VerifyUserSig(secret, sig string, sdkAppID uint64, userID string, now time.Time) error {
	return NewUserSigKey(secret).Verify(sig, sdkAppID, userID, now)
}

// appendClaims appends c as encoding/json writes it, byte for byte: by hand, the user ID quoted
// by jsonappend; through encoding/json when the ID is not valid UTF-8, which it repairs.
func appendClaims(dst []byte, c UserSigClaims) []byte {
	start := len(dst)
	dst = append(dst, `{"sdkAppId":`...)
	dst = strconv.AppendUint(dst, c.SDKAppID, 10)
	dst = append(dst, `,"userId":`...)
	dst, ok := jsonappend.String(dst, c.UserID)
	if !ok {
		b, _ := json.Marshal(c) // plain fields: cannot fail
		return append(dst[:start], b...)
	}
	dst = append(dst, `,"expire":`...)
	dst = strconv.AppendInt(dst, c.Expire, 10)
	return append(dst, '}')
}

// parseClaims reads the claims of a UserSig. Claims as a UserSigKey writes them for a user ID
// that needs no escaping are read by hand, and taken only if writing them back gives the same
// bytes (which encoding/json reads the same way); anything else goes through encoding/json,
// with its answers and errors.
func parseClaims(payload []byte) (UserSigClaims, error) {
	if c, ok := parsePlainClaims(payload); ok {
		var buf [128]byte
		if string(appendClaims(buf[:0], c)) == string(payload) {
			return c, nil
		}
	}
	var c UserSigClaims
	err := json.Unmarshal(payload, &c)
	return c, err
}

// parsePlainClaims reads claims written as appendClaims writes them, or reports false.
func parsePlainClaims(p []byte) (UserSigClaims, bool) {
	var c UserSigClaims
	rest, ok := strings.CutPrefix(string(p), `{"sdkAppId":`)
	if !ok {
		return c, false
	}
	num, rest, ok := strings.Cut(rest, `,"userId":"`)
	if !ok {
		return c, false
	}
	app, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return c, false
	}
	user, rest, ok := strings.Cut(rest, `","expire":`)
	if !ok {
		return c, false
	}
	exp, ok := strings.CutSuffix(rest, "}")
	if !ok {
		return c, false
	}
	expire, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return c, false
	}
	return UserSigClaims{SDKAppID: app, UserID: user, Expire: expire}, true
}
