package relay

import (
	"testing"
	"time"
)

// BenchmarkUserSig is the cost of a login's UserSig: the app's side that makes it and the
// relay's that checks it, with the secret given on each call and with a key kept.
func BenchmarkUserSig(b *testing.B) {
	const secret = "bench-secret-key-0123456789"
	now := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	claims := UserSigClaims{SDKAppID: 1400000001, UserID: "u12345", Expire: now.Add(24 * time.Hour).Unix()}
	sig := MakeUserSig(secret, claims)
	key := NewUserSigKey(secret)
	b.Run("make", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			MakeUserSig(secret, claims)
		}
	})
	b.Run("verify", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := VerifyUserSig(secret, sig, claims.SDKAppID, claims.UserID, now); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("key-make", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			key.Make(claims)
		}
	})
	b.Run("key-verify", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := key.Verify(sig, claims.SDKAppID, claims.UserID, now); err != nil {
				b.Fatal(err)
			}
		}
	})
}
