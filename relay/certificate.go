package relay

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"time"

	"github.com/pushlab/pushlab/internal/secret"
)

// Certificate is an app's push credentials for one Android package, as registered in the console:
// a service account for FCM's HTTP v1 API, or a legacy server key.
type Certificate struct {
	ID          int64  `json:"id" yaml:"id"`
	SDKAppID    uint64 `json:"sdkAppId" yaml:"app"`
	Platform    string `json:"platform" yaml:"platform"` // "google"
	PackageName string `json:"packageName" yaml:"packageName"`
	SenderID    string `json:"senderId,omitempty" yaml:"senderId"`
	// ServiceAccount is the service-account JSON (HTTP v1); ServerKey the legacy key. Secret.
	ServiceAccount secret.Secret `json:"serviceAccount,omitzero" yaml:"serviceAccount"`
	ServerKey      secret.Secret `json:"serverKey,omitzero" yaml:"serverKey"`
	// Endpoint is the FCM base URL; empty means Google's. Set it to a fakefcm's URL.
	Endpoint string `json:"endpoint,omitempty" yaml:"endpoint"`
	// ChannelID is the Android notification channel pushes through this certificate are posted
	// to unless a message names its own (offlinePush.android.channelId); empty leaves it to the
	// app's manifest default, or FCM's fallback channel.
	ChannelID string `json:"channelId,omitempty" yaml:"channelId"`
	// Status is the relay's verdict on the credentials, from FCM's answers.
	Status CertStatus `json:"status" yaml:"-"`
	// Check is the latest check of the credentials (see CertCheck).
	Check CertCheck `json:"check" yaml:"-"`
}

// CertStatus says whether FCM accepted the certificate's credentials lately.
type CertStatus struct {
	Misconfigured bool      `json:"misconfigured"`
	Reason        string    `json:"reason,omitempty"`
	Since         time.Time `json:"since,omitzero"`
}

// API names the FCM API a certificate uses: "v1" with a service account, else "legacy".
func (c *Certificate) API() string {
	if !c.ServiceAccount.IsZero() {
		return "v1"
	}
	return "legacy"
}

// serviceAccountFields are the parts of a service-account JSON the relay reads.
type serviceAccountFields struct {
	Type         string `json:"type"`
	ProjectID    string `json:"project_id"`
	PrivateKeyID string `json:"private_key_id"`
	PrivateKey   string `json:"private_key"`
	ClientEmail  string `json:"client_email"`
	TokenURI     string `json:"token_uri"`
}

// ProjectID is the Firebase project of a v1 certificate's service account; empty for legacy.
func (c *Certificate) ProjectID() string {
	var sa serviceAccountFields
	_ = json.Unmarshal([]byte(c.ServiceAccount.Reveal()), &sa)
	return sa.ProjectID
}

var packagePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$`)

// Validate reports what is wrong with a certificate's fields.
func (c *Certificate) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: certificate %d: %s", ErrInvalid, c.ID, fmt.Sprintf(format, args...))
	}
	if c.ID <= 0 {
		return bad("id must be a positive number")
	}
	if c.Platform != "google" {
		return bad("platform %q: only \"google\" (FCM) is supported", c.Platform)
	}
	if !packagePattern.MatchString(c.PackageName) {
		return bad("packageName %q: expected the Android package, such as com.example.im", c.PackageName)
	}
	switch {
	case c.ServiceAccount.IsZero() && c.ServerKey.IsZero():
		return bad("needs a serviceAccount (HTTP v1) or a serverKey (legacy API)")
	case !c.ServiceAccount.IsZero():
		var sa serviceAccountFields
		if err := json.Unmarshal([]byte(c.ServiceAccount.Reveal()), &sa); err != nil {
			return bad("serviceAccount is not JSON: %v", err)
		}
		if sa.Type != "service_account" || sa.ProjectID == "" || sa.PrivateKey == "" || sa.ClientEmail == "" {
			return bad("serviceAccount must be a service-account key file with type service_account, project_id, private_key and client_email")
		}
	}
	if c.ChannelID != "" {
		if why := checkChannelID("channelId", c.ChannelID); why != "" {
			return bad("%s", why)
		}
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return bad("endpoint %q: expected an http(s) base URL such as http://127.0.0.1:4000, or empty for Google", c.Endpoint)
		}
	}
	return nil
}

// CertificateView is a certificate as the admin API shows it: secrets masked.
type CertificateView struct {
	ID          int64      `json:"id"`
	SDKAppID    uint64     `json:"sdkAppId"`
	Platform    string     `json:"platform"`
	PackageName string     `json:"packageName"`
	SenderID    string     `json:"senderId,omitempty"`
	API         string     `json:"api"`
	ProjectID   string     `json:"projectId,omitempty"`
	ClientEmail string     `json:"clientEmail,omitempty"`
	KeyID       string     `json:"privateKeyId,omitempty"` // masked: the first 4 characters
	ServerKey   string     `json:"serverKey,omitempty"`    // masked: the last 4 characters
	Endpoint    string     `json:"endpoint,omitempty"`
	ChannelID   string     `json:"channelId,omitempty"`
	Status      CertStatus `json:"status"`
	Check       CertCheck  `json:"check"`
}

// View masks a certificate's secrets.
func (c *Certificate) View() CertificateView {
	v := CertificateView{ID: c.ID, SDKAppID: c.SDKAppID, Platform: c.Platform, PackageName: c.PackageName,
		SenderID: c.SenderID, API: c.API(), Endpoint: c.Endpoint, ChannelID: c.ChannelID, Status: c.Status, Check: c.checkView()}
	if !c.ServiceAccount.IsZero() {
		var sa serviceAccountFields
		_ = json.Unmarshal([]byte(c.ServiceAccount.Reveal()), &sa)
		v.ProjectID, v.ClientEmail = sa.ProjectID, sa.ClientEmail
		if len(sa.PrivateKeyID) > 4 {
			v.KeyID = sa.PrivateKeyID[:4] + "…"
		}
	}
	if k := c.ServerKey.Reveal(); k != "" {
		v.ServerKey = "…"
		if len(k) >= 16 { // a short key would be mostly shown by its last four characters
			v.ServerKey += k[len(k)-4:]
		}
	}
	return v
}

// The states of a certificate's check (CertCheck.Status).
const (
	CheckUnchecked = "unchecked" // no check has answered yet for these credentials
	CheckOK        = "ok"        // FCM accepted the credentials and a validate-only send
	CheckFailed    = "failed"    // FCM (or the relay, without asking it) refused them; Error says why
)

// CertCheck is the outcome of the latest check of a certificate's credentials: for HTTP v1 an
// OAuth token and a validate-only send to a topic, for the legacy API a dry-run send. A failed
// check does not refuse the certificate: it is stored, and pushes still try it.
type CertCheck struct {
	Status string `json:"status"`
	// Error is what FCM answered, in words; empty unless Status is failed.
	Error string `json:"error,omitempty"`
	// CheckedAt is when the answer came; zero while unchecked.
	CheckedAt time.Time `json:"checkedAt,omitzero"`
}

// LegacyShutdownError is the check's error for a legacy certificate aimed at Google.
const LegacyShutdownError = "the legacy FCM HTTP API (server keys) was shut down by Google: deprecated on 20 June 2023, " +
	"shutdown began on 22 July 2024, so Google refuses these sends. Use HTTP v1 credentials instead: a service-account " +
	"JSON from the Firebase console (Project settings → Service accounts → Generate new private key)"

// LegacyAtGoogle reports whether a certificate is a legacy server key aimed at Google's FCM (an
// empty endpoint), which Google no longer serves. Such a certificate fails its check without any
// network call.
func (c *Certificate) LegacyAtGoogle() bool { return c.API() == "legacy" && c.Endpoint == "" }

// CredentialsDigest names a certificate's credentials and where they are sent (endpoint, API,
// service account, server key) without showing them: a check's result applies to the
// certificate only while its digest is the one that was checked.
func (c *Certificate) CredentialsDigest() string {
	h := sha256.New()
	for _, s := range []string{c.Endpoint, c.API(), c.ServiceAccount.Reveal(), c.ServerKey.Reveal()} {
		fmt.Fprintf(h, "%d:%s;", len(s), s)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// checkView is the check as shown: a certificate stored before checks existed is unchecked.
func (c *Certificate) checkView() CertCheck {
	if c.Check.Status == "" {
		return CertCheck{Status: CheckUnchecked}
	}
	return c.Check
}
