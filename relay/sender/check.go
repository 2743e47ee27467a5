package sender

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"firebase.google.com/go/v4/messaging"
	"golang.org/x/oauth2"

	"github.com/pushlab/pushlab/relay"
)

// CheckTopic is the topic a certificate check sends to, validate-only (HTTP v1) or dry-run
// (legacy): a target that needs no device, and nothing is delivered.
const CheckTopic = "pushlab-check"

// Check asks FCM whether a certificate's credentials work, reaching no device: for HTTP v1 it
// gets an OAuth token with the service account (through its token_uri) and makes a
// validate-only send to CheckTopic; for the legacy API it makes a dry-run send to CheckTopic.
// It returns nil when FCM accepted them, else what FCM answered, in words. The error never
// holds a credential or an access token. It does not touch the pool's clients: a check gets a
// token of its own.
func (p *Pool) Check(ctx context.Context, cert relay.Certificate) error {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	cc, ts, err := p.build(ctx, cert)
	if err != nil {
		return fmt.Errorf("the relay cannot use the credentials: %w", err)
	}
	if cc.v1 == nil {
		return legacyCheck(ctx, cc)
	}
	if _, err := ts.Token(); err != nil {
		return oauthError(err)
	}
	msg := &messaging.Message{Topic: CheckTopic, Notification: &messaging.Notification{Title: "pushlab", Body: "credential check"}}
	if _, err := cc.v1.SendDryRun(ctx, msg); err != nil {
		e := v1Error(ctx, err)
		return fmt.Errorf("FCM refused a validate-only send (%s): %s", e.Code, e.Message)
	}
	return nil
}

// oauthError says why the token endpoint gave no access token.
func oauthError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		if re.ErrorCode == "" { // the JWT grant leaves the body unparsed
			var body struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			if json.Unmarshal(re.Body, &body) == nil {
				re.ErrorCode, re.ErrorDescription = body.Error, body.Description
			}
		}
		what := re.ErrorDescription
		if what == "" {
			what = "no description"
		}
		return fmt.Errorf("the OAuth token endpoint refused the service account (HTTP %d, %s): %s", status, re.ErrorCode, what)
	}
	return fmt.Errorf("no OAuth token for the service account: %w", err)
}

// legacyCheck makes a dry-run send to CheckTopic through the legacy API.
func legacyCheck(ctx context.Context, cc *certClient) error {
	body, _ := json.Marshal(map[string]any{"to": "/topics/" + CheckTopic, "dry_run": true,
		"notification": map[string]string{"title": "pushlab", "body": "credential check"}})
	resp, b, err := legacyPost(ctx, cc, body)
	if err != nil {
		return fmt.Errorf("legacy dry-run send did not reach FCM: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return errors.New("the legacy API refused the server key (401 Unauthorized)")
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("the legacy API answered a dry-run send with %d: %.200s", resp.StatusCode, b)
	}
	var ans struct {
		MessageID json.Number `json:"message_id"`
		Error     string      `json:"error"`
	}
	if err := json.Unmarshal(b, &ans); err != nil {
		return fmt.Errorf("the legacy API's answer to a dry-run send was not understood: %.200s", b)
	}
	if ans.Error != "" {
		return fmt.Errorf("the legacy API refused a dry-run send: %s", ans.Error)
	}
	return nil
}
