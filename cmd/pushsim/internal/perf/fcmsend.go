package perf

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/messaging"
	"golang.org/x/oauth2/google"
	"google.golang.org/api/option"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/fakefcm/control"
	"github.com/pushlab/pushlab/internal/httpserver"
	"github.com/pushlab/pushlab/sim/live"
)

// FCMSendConfig sizes the fakefcm send-rate measurement.
type FCMSendConfig struct {
	Rounds  int           // interleaved rounds of each subject; default 5
	Round   time.Duration // length of one round; default 1s
	Workers int           // concurrent senders; default 32
	Devices int           // tokens the sends spread over; default 1000
}

func (c *FCMSendConfig) defaults() {
	if c.Rounds == 0 {
		c.Rounds = 5
	}
	if c.Round == 0 {
		c.Round = time.Second
	}
	if c.Workers == 0 {
		c.Workers = 32
	}
	if c.Devices == 0 {
		c.Devices = 1000
	}
}

// FCMSendResult holds per-round rates (sends per second) of each subject.
type FCMSendResult struct {
	Trivial, Raw, SDK []float64
}

// MeasureFCMSend measures HTTP v1 sends per second over loopback into fakefcm, with raw HTTP and
// through the firebase Admin SDK, beside a trivial Go JSON handler on the same machine and client,
// round after round so that all three see the same noise.
func MeasureFCMSend(ctx context.Context, cfg FCMSendConfig) (FCMSendResult, error) {
	cfg.defaults()
	var res FCMSendResult
	trivial, err := startTrivial()
	if err != nil {
		return res, err
	}
	defer trivial.Close()
	raw := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Workers, MaxConnsPerHost: cfg.Workers}}
	body := []byte(`{"message":{"token":"t","notification":{"title":"bob","body":"hi alice"},"data":{"conv":"c2c_bob","seq":"42"},"android":{"priority":"high","collapse_key":"c2c_bob"}}}`)
	trivialURL := "http://" + trivial.Addr().String() + "/v1/projects/demo/messages:send"
	for range cfg.Rounds {
		rate, _, err := Throughput(ctx, cfg.Workers, cfg.Round, func(ctx context.Context) error {
			return post(ctx, raw, trivialURL, "", body)
		})
		if err != nil {
			return res, fmt.Errorf("trivial handler: %w", err)
		}
		res.Trivial = append(res.Trivial, rate)

		// A fresh fakefcm per round keeps its records from growing across rounds.
		bench, err := newFCMBench(ctx, cfg.Devices)
		if err != nil {
			return res, err
		}
		var i atomic.Int64
		rate, failed, err := Throughput(ctx, cfg.Workers, cfg.Round, func(ctx context.Context) error {
			tok := bench.tokens[i.Add(1)%int64(len(bench.tokens))]
			m := bytes.Replace(body, []byte(`"token":"t"`), []byte(`"token":"`+tok+`"`), 1)
			return post(ctx, raw, bench.sendURL, "Bearer "+bench.bearer, m)
		})
		if failed > 0 {
			bench.close()
			return res, fmt.Errorf("raw sends: %d failed: %w", failed, err)
		}
		res.Raw = append(res.Raw, rate)

		rate, failed, err = Throughput(ctx, cfg.Workers, cfg.Round, func(ctx context.Context) error {
			tok := bench.tokens[i.Add(1)%int64(len(bench.tokens))]
			_, err := bench.sdk.Send(ctx, &messaging.Message{
				Token:        tok,
				Notification: &messaging.Notification{Title: "bob", Body: "hi alice"},
				Data:         map[string]string{"conv": "c2c_bob", "seq": "42"},
				Android:      &messaging.AndroidConfig{Priority: "high", CollapseKey: "c2c_bob"},
			})
			return err
		})
		bench.close()
		if failed > 0 {
			return res, fmt.Errorf("Admin SDK sends: %d failed: %w", failed, err)
		}
		res.SDK = append(res.SDK, rate)
	}
	return res, nil
}

// FCMSendFigures turns a result into figures against the goals: ≥ 10,000 sends/s and ≥ 0.7× the
// trivial handler.
func FCMSendFigures(r FCMSendResult) []Figure {
	ratios := make([]float64, len(r.Raw))
	for i := range r.Raw {
		ratios[i] = r.Raw[i] / r.Trivial[i]
	}
	raw, sdk, trivial, ratio := Median(r.Raw), Median(r.SDK), Median(r.Trivial), Median(ratios)
	return []Figure{
		{Name: "fakefcm HTTP v1 sends/s (raw HTTP)", Value: raw, Unit: "/s", Goal: "≥ 10000", Met: raw >= 10000, Note: fmt.Sprintf("%d rounds, loopback, client in-process", len(r.Raw))},
		{Name: "fakefcm HTTP v1 sends/s (Admin SDK)", Value: sdk, Unit: "/s", Goal: "≥ 10000", Met: sdk >= 10000, Note: "firebase.google.com/go/v4 messaging.Send"},
		{Name: "trivial Go JSON handler req/s (baseline)", Value: trivial, Unit: "/s", Goal: "-", Met: true, Note: "same client, same rounds"},
		{Name: "fakefcm raw sends vs trivial handler", Value: ratio, Unit: "×", Goal: "≥ 0.8", Met: ratio >= 0.8, Note: "median of per-round ratios"},
	}
}

func post(ctx context.Context, c *http.Client, url, auth string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// startTrivial serves the baseline: a handler that decodes the JSON body and answers a name.
func startTrivial() (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	hs := &http.Server{Handler: httpserver.Baseline()}
	go hs.Serve(ln)
	return ln, nil
}

// fcmBench is a fakefcm (sim/live's Stack alone) with a project, tokens, an access token and an
// Admin SDK client.
type fcmBench struct {
	fcm     *live.Stack
	tokens  []string
	bearer  string
	sendURL string
	sdk     *messaging.Client
}

func newFCMBench(ctx context.Context, devices int) (*fcmBench, error) {
	fcm, err := live.StartStack(ctx, live.StackConfig{FCMOnly: true, FCMConfig: &fakefcm.Config{Seed: 1}})
	if err != nil {
		return nil, err
	}
	b := &fcmBench{fcm: fcm, sendURL: fcm.FCMURL + "/v1/projects/bench/messages:send"}
	cc := &control.Client{BaseURL: fcm.FCMURL}
	creds, err := cc.CreateProject(ctx, control.CreateProjectRequest{ProjectID: "bench"})
	if err != nil {
		b.close()
		return nil, err
	}
	for range devices {
		tok, err := cc.RegisterDevice(ctx, creds.SenderID, "com.example.im")
		if err != nil {
			b.close()
			return nil, err
		}
		b.tokens = append(b.tokens, tok)
	}
	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: "bench"}, option.WithCredentialsJSON(creds.ServiceAccount), option.WithEndpoint(fcm.FCMURL+"/v1"))
	if err != nil {
		b.close()
		return nil, err
	}
	if b.sdk, err = app.Messaging(ctx); err != nil {
		b.close()
		return nil, err
	}
	// The SDK's first send fetches an access token; the raw client reuses one the same way.
	if _, err := b.sdk.SendDryRun(ctx, &messaging.Message{Token: b.tokens[0]}); err != nil {
		b.close()
		return nil, fmt.Errorf("warm-up send: %w", err)
	}
	if b.bearer, err = fetchBearer(ctx, creds); err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

func (b *fcmBench) close() { _ = b.fcm.Close() }

// fetchBearer gets an access token for the project's service account through its token_uri.
func fetchBearer(ctx context.Context, creds control.ProjectCredentials) (string, error) {
	conf, err := google.JWTConfigFromJSON(creds.ServiceAccount, "https://www.googleapis.com/auth/firebase.messaging")
	if err != nil {
		return "", fmt.Errorf("service account: %w", err)
	}
	tok, err := conf.TokenSource(ctx).Token()
	if err != nil {
		return "", fmt.Errorf("access token: %w", err)
	}
	return tok.AccessToken, nil
}
