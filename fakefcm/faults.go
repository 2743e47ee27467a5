package fakefcm

import (
	"fmt"
	"time"

	"github.com/pushlab/pushlab/internal/duration"
)

// API names the wire API a send came through.
type API string

// The send APIs.
const (
	APIV1     API = "v1"
	APILegacy API = "legacy"
)

// FaultRule makes fakefcm misbehave for the sends it matches. Empty Project, Token and API match
// any. Every matching rule applies: the first with a Status answers the send; latencies add up;
// any Loss loses the message.
type FaultRule struct {
	Project string `json:"project,omitempty"`
	Token   string `json:"token,omitempty"`
	API     API    `json:"api,omitempty"`
	// Status answers the send with this HTTP status and the FCM error code that goes with it
	// (400, 401, 403, 404, 429, 500, 503); zero answers normally.
	Status int `json:"status,omitempty"`
	// ErrorCode overrides the error code Status implies.
	ErrorCode ErrorCode `json:"errorCode,omitempty"`
	// RetryAfter is sent as the Retry-After header with Status.
	RetryAfter duration.Duration `json:"retryAfter,omitempty"`
	// Count spends the rule after that many matches; zero never spends it.
	Count int `json:"count,omitempty"`
	// Probability that a send the rule matches is affected, in (0, 1]; zero means 1.
	Probability float64 `json:"probability,omitempty"`
	// Latency holds the answer back this long. The message itself is accepted at once, so a
	// sender that times out may still see it delivered — the source of duplicate pushes.
	Latency duration.Duration `json:"latency,omitempty"`
	// Loss accepts the message and never delivers it.
	Loss bool `json:"loss,omitempty"`
	// Matched counts the sends the rule has affected so far (read-only).
	Matched int `json:"matched"`
}

type fault struct {
	FaultRule
	code ErrorCode
}

// SetFaults replaces the fault rules. An empty list clears them.
func (c *Core) SetFaults(rules []FaultRule) error {
	out, err := compileFaults(rules)
	if err != nil {
		return err
	}
	c.faults = out
	return nil
}

// AddFaults adds rules after those in force, which keep what they have matched so far (a
// rule's count that is spent stays spent). Nothing is added if a rule is invalid.
func (c *Core) AddFaults(rules []FaultRule) error {
	out, err := compileFaults(rules)
	if err != nil {
		return err
	}
	c.faults = append(c.faults, out...)
	return nil
}

// compileFaults checks rules and readies them to match sends, their match counts at zero.
func compileFaults(rules []FaultRule) ([]*fault, error) {
	out := make([]*fault, 0, len(rules))
	for i, r := range rules {
		f := &fault{FaultRule: r}
		f.Matched = 0
		switch r.API {
		case "", APIV1, APILegacy:
		default:
			return nil, fmt.Errorf("%w: fault rule %d: api %q: use %q or %q", ErrInvalid, i, r.API, APIV1, APILegacy)
		}
		if r.Status != 0 {
			code, ok := CodeForStatus(r.Status)
			if r.ErrorCode != "" {
				code, ok = r.ErrorCode, r.ErrorCode.Valid()
			}
			if !ok {
				return nil, fmt.Errorf("%w: fault rule %d: status %d / errorCode %q: FCM answers sends with 400, 401, 403, 404, 429, 500 or 503", ErrInvalid, i, r.Status, r.ErrorCode)
			}
			f.code = code
		} else if r.ErrorCode != "" {
			return nil, fmt.Errorf("%w: fault rule %d: errorCode needs a status", ErrInvalid, i)
		}
		if r.Probability < 0 || r.Probability > 1 {
			return nil, fmt.Errorf("%w: fault rule %d: probability %v: must be in [0, 1]", ErrInvalid, i, r.Probability)
		}
		if r.Count < 0 || r.Latency < 0 || r.RetryAfter < 0 {
			return nil, fmt.Errorf("%w: fault rule %d: count, latency and retryAfter must not be negative", ErrInvalid, i)
		}
		out = append(out, f)
	}
	return out, nil
}

// Faults returns the fault rules in force, with their match counts.
func (c *Core) Faults() []FaultRule {
	out := make([]FaultRule, 0, len(c.faults))
	for _, f := range c.faults {
		out = append(out, f.FaultRule)
	}
	return out
}

// faultOutcome is what the matching fault rules do to one send.
type faultOutcome struct {
	err     *SendError
	latency time.Duration
	loss    bool
}

// applyFaults matches a send against the rules and spends what it uses.
func (c *Core) applyFaults(api API, projectID, token string) faultOutcome {
	var out faultOutcome
	live := c.faults[:0]
	for _, f := range c.faults {
		matches := (f.Project == "" || f.Project == projectID) &&
			(f.Token == "" || f.Token == token) &&
			(f.API == "" || f.API == api)
		if matches && (f.Probability == 0 || f.Probability >= 1 || c.rng.Float64() < f.Probability) {
			f.Matched++
			if f.code != "" && out.err == nil {
				out.err = newError(f.code, "")
				out.err.RetryAfter = f.RetryAfter.D()
			}
			out.latency += f.Latency.D()
			out.loss = out.loss || f.Loss
		}
		if f.Count == 0 || f.Matched < f.Count {
			live = append(live, f)
		}
	}
	c.faults = live
	return out
}
