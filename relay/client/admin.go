package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

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
	body := map[string]any{"sdkAppId": cfg.SDKAppID, "name": cfg.Name, "secretKey": cfg.SecretKey.Reveal(), "loginPolicy": cfg.LoginPolicy, "caps": cfg.Caps}
	err := a.Do(ctx, http.MethodPost, "/admin/v1/apps", body, nil)
	if ae := (*AdminError)(nil); errors.As(err, &ae) && ae.Status == http.StatusConflict {
		return a.Do(ctx, http.MethodPut, fmt.Sprintf("/admin/v1/apps/%d", cfg.SDKAppID), body, nil)
	}
	return err
}

// PutCertificate creates a certificate, or replaces it if it exists. serviceAccount is the
// key file's JSON (empty for a legacy certificate with serverKey).
func (a *Admin) PutCertificate(ctx context.Context, app uint64, id int64, pkg string, serviceAccount json.RawMessage, serverKey, endpoint string) error {
	body := map[string]any{"id": id, "platform": "google", "packageName": pkg, "endpoint": endpoint}
	if len(serviceAccount) > 0 {
		body["serviceAccount"] = serviceAccount
	} else {
		body["serverKey"] = serverKey
	}
	err := a.Do(ctx, http.MethodPost, fmt.Sprintf("/admin/v1/apps/%d/certificates", app), body, nil)
	if ae := (*AdminError)(nil); errors.As(err, &ae) && ae.Status == http.StatusConflict {
		return a.Do(ctx, http.MethodPut, fmt.Sprintf("/admin/v1/apps/%d/certificates/%d", app, id), body, nil)
	}
	return err
}

// Kick kicks every device of a user.
func (a *Admin) Kick(ctx context.Context, app uint64, user string) error {
	return a.Do(ctx, http.MethodPost, fmt.Sprintf("/admin/v1/apps/%d/users/%s/kick", app, url.PathEscape(user)), nil, nil)
}

// PutGroup creates or replaces a group.
func (a *Admin) PutGroup(ctx context.Context, app uint64, id string, members []string) error {
	return a.Do(ctx, http.MethodPut, fmt.Sprintf("/admin/v1/apps/%d/groups/%s", app, url.PathEscape(id)), map[string]any{"members": members}, nil)
}

// User describes a user's devices.
func (a *Admin) User(ctx context.Context, app uint64, user string) (relay.UserView, error) {
	var v relay.UserView
	err := a.Do(ctx, http.MethodGet, fmt.Sprintf("/admin/v1/apps/%d/users/%s", app, url.PathEscape(user)), nil, &v)
	return v, err
}

// Settings reads the rules the relay runs with (GET /admin/v1/settings).
func (a *Admin) Settings(ctx context.Context) (relay.Config, error) {
	var cfg relay.Config
	err := a.Do(ctx, http.MethodGet, "/admin/v1/settings", nil, &cfg)
	return cfg, err
}

// PushTrace reads an app's push trace (all of it, oldest first, up to limit entries).
func (a *Admin) PushTrace(ctx context.Context, app uint64, limit int) ([]relay.TraceEntry, error) {
	var out struct {
		Entries []relay.TraceEntry `json:"entries"`
	}
	err := a.Do(ctx, http.MethodGet, fmt.Sprintf("/admin/v1/apps/%d/push-trace?limit=%d", app, limit), nil, &out)
	return out.Entries, err
}
