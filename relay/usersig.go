package relay

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
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

// MakeUserSig signs claims with an app's secret key:
// base64url(JSON claims) + "." + base64url(HMAC-SHA256(secret, first part)).
func MakeUserSig(secret string, c UserSigClaims) string {
	payload, _ := json.Marshal(c) // plain fields: cannot fail
	first := b64.EncodeToString(payload)
	return first + "." + b64.EncodeToString(sign(secret, first))
}

func sign(secret, first string) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(first))
	return mac.Sum(nil)
}

// ParseUserSig checks a UserSig's shape and signature and returns its claims, without judging
// expiry or whom it names.
func ParseUserSig(secret, sig string) (UserSigClaims, error) {
	var c UserSigClaims
	first, mac, ok := strings.Cut(sig, ".")
	if !ok || first == "" || mac == "" {
		return c, fmt.Errorf("%w: expected base64url(claims).base64url(hmac)", ErrSigMalformed)
	}
	got, err := b64.DecodeString(mac)
	if err != nil {
		return c, fmt.Errorf("%w: signature part is not base64url", ErrSigMalformed)
	}
	payload, err := b64.DecodeString(first)
	if err != nil {
		return c, fmt.Errorf("%w: claims part is not base64url", ErrSigMalformed)
	}
	jerr := json.Unmarshal(payload, &c)
	if !hmac.Equal(got, sign(secret, first)) {
		return c, ErrSigForged
	}
	if jerr != nil {
		return c, fmt.Errorf("%w: claims are not JSON: %v", ErrSigMalformed, jerr)
	}
	return c, nil
}

// VerifyUserSig checks that sig is a valid, unexpired signature by the app's secret for exactly
// this app and user.
func VerifyUserSig(secret, sig string, sdkAppID uint64, userID string, now time.Time) error {
	c, err := ParseUserSig(secret, sig)
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
