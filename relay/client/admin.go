package client

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/pushlab/pushlab/relay"
)

// Admin is a client of the relay's admin API.
type Admin struct {
	// BaseURL is the relay's base URL, such as "http://127.0.0.1:4100" or, for a relay serving
	// TLS, "https://relay.example.test:4100".
	BaseURL string
	// Key is the admin key.
	Key string
	// HTTP is the client used; nil means http.DefaultClient, which trusts the system roots
	// (read from SSL_CERT_FILE and SSL_CERT_DIR when they are set).
	HTTP *http.Client
}

// AdminError is a refusal of the admin API.
type AdminError struct {
	Status  int
	Message string
}

func (e *AdminError) Error() string { return fmt.Sprintf("relay admin: %d: %s", e.Status, e.Message) }

// Do sends a JSON request and decodes the JSON answer into out (if not nil).
func (a *Admin) Do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(a.BaseURL, "/")+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.Key)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := a.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("relay admin %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		msg := strings.TrimSpace(string(b))
		if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
			msg = e.Error.Message
		}
		return &AdminError{Status: resp.StatusCode, Message: msg}
	}
	if out != nil && len(b) > 0 {
		return json.Unmarshal(b, out)
	}
	return nil
}

// PutApp creates an app, or updates it if it exists.
func (a *Admin) PutApp(ctx context.Context, cfg relay.AppConfig) error {
	body := map[string]any{"sdkAppId": cfg.SDKAppID, "name": cfg.Name, "secretKey": cfg.SecretKey.Reveal(), "loginPolicy": cfg.LoginPolicy, "caps": cfg.Caps,
		"defaultLocale": cfg.DefaultLocale, "pushTemplates": cfg.PushTemplates}
	err := a.Do(ctx, http.MethodPost, AppsPath, body, nil)
	if ae := (*AdminError)(nil); errors.As(err, &ae) && ae.Status == http.StatusConflict {
		return a.Do(ctx, http.MethodPut, AppPath(cfg.SDKAppID), body, nil)
	}
	return err
}

// PutCertificate creates cert, or replaces it if it exists: its app, ID, package name, sender
// ID, credentials (the service account's key file as JSON, or a legacy server key), endpoint and
// default Android notification channel. Its platform is "google" when unset; its status and
// check are the relay's to say.
func (a *Admin) PutCertificate(ctx context.Context, cert relay.Certificate) error {
	body := map[string]any{"id": cert.ID, "platform": cmp.Or(cert.Platform, "google"), "packageName": cert.PackageName,
		"senderId": cert.SenderID, "endpoint": cert.Endpoint, "channelId": cert.ChannelID}
	if !cert.ServiceAccount.IsZero() {
		sa := json.RawMessage(cert.ServiceAccount.Reveal())
		if !json.Valid(sa) {
			return fmt.Errorf("put certificate %d of app %d: serviceAccount is not JSON: give the key file's contents", cert.ID, cert.SDKAppID)
		}
		body["serviceAccount"] = sa
	} else {
		body["serverKey"] = cert.ServerKey.Reveal()
	}
	err := a.Do(ctx, http.MethodPost, CertificatesPath(cert.SDKAppID), body, nil)
	if ae := (*AdminError)(nil); errors.As(err, &ae) && ae.Status == http.StatusConflict {
		return a.Do(ctx, http.MethodPut, CertificatePath(cert.SDKAppID, cert.ID), body, nil)
	}
	return err
}

// Kick kicks every device of a user.
func (a *Admin) Kick(ctx context.Context, app uint64, user string) error {
	return a.Do(ctx, http.MethodPost, KickPath(app, user), nil, nil)
}

// SetPushSettings sets a user's push settings (PUT …/pushSettings) and returns them.
func (a *Admin) SetPushSettings(ctx context.Context, app uint64, user string, s relay.PushSettings) (relay.PushSettings, error) {
	var out relay.PushSettings
	err := a.Do(ctx, http.MethodPut, PushSettingsPath(app, user), s, &out)
	return out, err
}

// PushSettings reads a user's push settings (GET …/pushSettings).
func (a *Admin) PushSettings(ctx context.Context, app uint64, user string) (relay.PushSettings, error) {
	var out relay.PushSettings
	err := a.Do(ctx, http.MethodGet, PushSettingsPath(app, user), nil, &out)
	return out, err
}

// TestPush sends an operator's test push to one device of a user (empty title and body: the
// relay's defaults) and returns FCM's answer to it. A device without a push binding is refused
// with an AdminError of status 409.
func (a *Admin) TestPush(ctx context.Context, app uint64, user, device, title, body string) (relay.TestPushResult, error) {
	var out relay.TestPushResult
	in := map[string]string{}
	if title != "" {
		in["title"] = title
	}
	if body != "" {
		in["body"] = body
	}
	err := a.Do(ctx, http.MethodPost, TestPushPath(app, user, device), in, &out)
	return out, err
}

// PutGroup creates or replaces a group.
func (a *Admin) PutGroup(ctx context.Context, app uint64, id string, members []string) error {
	return a.PutNamedGroup(ctx, app, id, "", members)
}

// PutNamedGroup creates or replaces a group with a display name ("" for none).
func (a *Admin) PutNamedGroup(ctx context.Context, app uint64, id, name string, members []string) error {
	return a.Do(ctx, http.MethodPut, GroupPath(app, id), map[string]any{"members": members, "name": name}, nil)
}

// PutProfile sets a user's profile (an empty nickname removes it).
func (a *Admin) PutProfile(ctx context.Context, app uint64, user, nickname string) (relay.Profile, error) {
	var p relay.Profile
	err := a.Do(ctx, http.MethodPut, ProfilePath(app, user), map[string]string{"nickname": nickname}, &p)
	return p, err
}

// Profile reads a user's profile.
func (a *Admin) Profile(ctx context.Context, app uint64, user string) (relay.Profile, error) {
	var p relay.Profile
	err := a.Do(ctx, http.MethodGet, ProfilePath(app, user), nil, &p)
	return p, err
}

// User describes a user's devices.
func (a *Admin) User(ctx context.Context, app uint64, user string) (relay.UserView, error) {
	var v relay.UserView
	err := a.Do(ctx, http.MethodGet, UserPath(app, user), nil, &v)
	return v, err
}

// Settings reads the rules the relay runs with (GET /admin/v1/settings).
func (a *Admin) Settings(ctx context.Context) (relay.Config, error) {
	var cfg relay.Config
	err := a.Do(ctx, http.MethodGet, SettingsPath, nil, &cfg)
	return cfg, err
}

// PushTrace reads an app's push trace: its newest limit entries (zero: the relay's default
// page, 1000), oldest first, paging through the relay's answers for more than one page holds.
func (a *Admin) PushTrace(ctx context.Context, app uint64, limit int) ([]relay.TraceEntry, error) {
	if limit <= 0 {
		p, err := a.PushTracePage(ctx, app, TraceQuery{})
		return p.Entries, err
	}
	var pages [][]relay.TraceEntry
	q := TraceQuery{}
	for n := 0; n < limit; {
		q.Limit = min(limit-n, MaxTracePage)
		p, err := a.PushTracePage(ctx, app, q)
		if err != nil {
			return nil, err
		}
		pages = append(pages, p.Entries)
		n += len(p.Entries)
		if p.Next == "" {
			break
		}
		q.PageToken = p.Next
	}
	var out []relay.TraceEntry
	for i := len(pages) - 1; i >= 0; i-- { // pages come newest first, each oldest first
		out = append(out, pages[i]...)
	}
	return out, nil
}

// MaxTracePage is the most entries the relay answers in one push-trace page.
const MaxTracePage = 10000

// TraceQuery selects push-trace entries of an app; zero fields match everything. From is
// inclusive, To exclusive.
type TraceQuery struct {
	UserID, DeviceID string
	CertificateID    int64
	MsgID            string
	From, To         time.Time
	// Limit is the page's size (zero: 1000; at most MaxTracePage).
	Limit int
	// PageToken is a page's Next, to read the entries older than that page's.
	PageToken string
}

// TracePage is one page of an app's push trace: the newest entries the query matches (before
// its page token), oldest first.
type TracePage struct {
	Entries []relay.TraceEntry `json:"entries"`
	// Next, unless empty, is the PageToken of the page of older entries.
	Next string `json:"next,omitempty"`
}

// PushTracePage reads one page of an app's push trace (GET …/push-trace).
func (a *Admin) PushTracePage(ctx context.Context, app uint64, q TraceQuery) (TracePage, error) {
	var p TracePage
	err := a.Do(ctx, http.MethodGet, PushTracePath(app, q), nil, &p)
	return p, err
}
