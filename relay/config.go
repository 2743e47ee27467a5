package relay

import (
	"fmt"
	"time"

	"github.com/pushlab/pushlab/internal/duration"
	"github.com/pushlab/pushlab/internal/secret"
)

// Config is what the relay core is built from. Zero fields take the documented defaults.
type Config struct {
	// Seed feeds the core's randomness (retry jitter).
	Seed uint64 `yaml:"seed" json:"seed,omitempty"`
	// DiscardRecords is for drivers that keep no store (the simulator's lean mode): the core
	// then builds no records at all, which spares long simulations their cost.
	DiscardRecords bool `yaml:"-" json:"-"`
	// HeartbeatDeadline is how long a connection may stay silent before the relay declares it
	// dead (clients ping every HeartbeatInterval). Default 90 s.
	HeartbeatDeadline duration.Duration `yaml:"heartbeatDeadline" json:"heartbeatDeadline"`
	// HeartbeatInterval is how often clients are expected to ping; it is advertised, not
	// enforced. Default 30 s.
	HeartbeatInterval duration.Duration `yaml:"heartbeatInterval" json:"heartbeatInterval"`
	// PushTTL is the FCM time to live of pushes. Default 24 h.
	PushTTL duration.Duration `yaml:"pushTTL" json:"pushTTL"`
	// Retry bounds retries of pushes FCM refused for a passing reason.
	Retry RetryPolicy `yaml:"retry" json:"retry"`
	// FramesPerSecond and FrameBurst bound what one connection may send (token bucket);
	// defaults 20/s with a burst of 60.
	FramesPerSecond int `yaml:"framesPerSecond" json:"framesPerSecond"`
	FrameBurst      int `yaml:"frameBurst" json:"frameBurst"`
	// LoginsPerSecond bounds logins across the relay; zero means no bound.
	LoginsPerSecond int `yaml:"loginsPerSecond" json:"loginsPerSecond"`
	// InboxLimit is how many messages the relay keeps per user for sync (the newest, and up to
	// a tenth more between trims); default 10,000.
	InboxLimit int `yaml:"inboxLimit" json:"inboxLimit"`
	// TraceLimit is how many push-trace entries the relay keeps (the newest); default 200,000.
	TraceLimit int `yaml:"traceLimit" json:"traceLimit"`
	// Trace bounds the durable push trace the relay shell keeps in its store (the admin API's
	// push-trace answers): maxAge (default 168h) and maxEntries (default 1,000,000).
	Trace TraceRetention `yaml:"trace" json:"trace"`
	// DefaultCaps are the frequency caps of apps that set none.
	DefaultCaps Caps `yaml:"defaultCaps" json:"defaultCaps"`
	// Partition makes the core one partition of a cluster (DESIGN.md §11); the cluster node sets
	// it. The zero value is a single relay holding every user.
	Partition Partition `yaml:"-" json:"-"`
}

// RetryPolicy is exponential backoff with full jitter, honouring Retry-After.
type RetryPolicy struct {
	// MaxAttempts is the most sends of one push, the first included. Default 5.
	MaxAttempts int `yaml:"maxAttempts" json:"maxAttempts"`
	// Base is the first backoff; each retry doubles it up to Max. Defaults 1 s and 60 s.
	Base duration.Duration `yaml:"base" json:"base"`
	Max  duration.Duration `yaml:"max" json:"max"`
	// MaxWait is the longest the relay waits before a retry, whatever FCM's Retry-After says:
	// past it the push is given up (and traced). Default 1 h.
	MaxWait duration.Duration `yaml:"maxWait" json:"maxWait"`
}

// Caps are one device's push frequency caps. The defaults stay inside FCM's documented
// per-device limits (240/min, 5,000/h, collapsible burst 20 refilling one per 3 min) with room
// for network jitter, so that FCM never has to throttle a relay running with them.
type Caps struct {
	// PerMinute and PerHour bound pushes to one device in any minute and any hour.
	PerMinute int `json:"perMinute,omitempty" yaml:"perMinute"`
	PerHour   int `json:"perHour,omitempty" yaml:"perHour"`
	// Burst pushes may go at once; then one more every Refill.
	Burst  int               `json:"burst,omitempty" yaml:"burst"`
	Refill duration.Duration `json:"refill,omitempty" yaml:"refill"`
}

// Default caps.
const (
	DefaultCapsPerMinute = 120
	DefaultCapsPerHour   = 3000
	DefaultCapsBurst     = 18
	DefaultCapsRefill    = 3 * time.Minute
)

func (c Caps) withDefaults(d Caps) Caps {
	if c.PerMinute == 0 {
		c.PerMinute = d.PerMinute
	}
	if c.PerHour == 0 {
		c.PerHour = d.PerHour
	}
	if c.Burst == 0 {
		c.Burst = d.Burst
	}
	if c.Refill == 0 {
		c.Refill = d.Refill
	}
	return c
}

// Validate reports caps that cannot work.
// maxCapsCount bounds the caps' counts, so that a bucket's burst times its refill stays a
// representable duration.
const maxCapsCount = 1_000_000

func (c Caps) Validate() error {
	if c.PerMinute < 0 || c.PerHour < 0 || c.Burst < 0 || c.Refill < 0 {
		return fmt.Errorf("caps %+v: values must not be negative (0 means the default)", c)
	}
	if c.PerMinute > maxCapsCount || c.PerHour > maxCapsCount || c.Burst > maxCapsCount || c.Refill.D() > 24*time.Hour {
		return fmt.Errorf("caps %+v: counts go up to %d and refill up to 24h (FCM itself allows far less: FCM.md)", c, maxCapsCount)
	}
	return nil
}

// DefaultRetryMaxAttempts is Retry.MaxAttempts when the config leaves it out.
const DefaultRetryMaxAttempts = 5

// Effective is the config with every zero field given its default: the rules a relay built from
// it runs with (GET /admin/v1/settings answers them).
func (cfg Config) Effective() Config { return cfg.withDefaults() }

func (cfg Config) withDefaults() Config {
	def := func(d *duration.Duration, v time.Duration) {
		if *d == 0 {
			*d = duration.Of(v)
		}
	}
	def(&cfg.HeartbeatDeadline, 90*time.Second)
	def(&cfg.HeartbeatInterval, 30*time.Second)
	def(&cfg.PushTTL, 24*time.Hour)
	def(&cfg.Retry.Base, time.Second)
	def(&cfg.Retry.Max, time.Minute)
	def(&cfg.Retry.MaxWait, time.Hour)
	if cfg.Retry.MaxAttempts == 0 {
		cfg.Retry.MaxAttempts = DefaultRetryMaxAttempts
	}
	if cfg.FramesPerSecond == 0 {
		cfg.FramesPerSecond = 20
	}
	if cfg.FrameBurst == 0 {
		cfg.FrameBurst = 60
	}
	if cfg.InboxLimit == 0 {
		cfg.InboxLimit = 10_000
	}
	if cfg.TraceLimit == 0 {
		cfg.TraceLimit = 200_000
	}
	cfg.Trace = cfg.Trace.withDefaults()
	cfg.DefaultCaps = cfg.DefaultCaps.withDefaults(Caps{
		PerMinute: DefaultCapsPerMinute, PerHour: DefaultCapsPerHour,
		Burst: DefaultCapsBurst, Refill: duration.Of(DefaultCapsRefill),
	})
	return cfg
}

// Validate reports a setting that cannot work, naming it.
func (cfg Config) Validate() error {
	for _, d := range []struct {
		name string
		v    duration.Duration
	}{{"heartbeatDeadline", cfg.HeartbeatDeadline}, {"heartbeatInterval", cfg.HeartbeatInterval}, {"pushTTL", cfg.PushTTL},
		{"retry.base", cfg.Retry.Base}, {"retry.max", cfg.Retry.Max}, {"retry.maxWait", cfg.Retry.MaxWait}} {
		if d.v < 0 {
			return fmt.Errorf("%s %v: must not be negative (0 means the default)", d.name, d.v)
		}
	}
	for _, n := range []struct {
		name string
		v    int
		max  int
	}{{"retry.maxAttempts", cfg.Retry.MaxAttempts, 100}, {"framesPerSecond", cfg.FramesPerSecond, 1_000_000},
		{"frameBurst", cfg.FrameBurst, 1_000_000}, {"loginsPerSecond", cfg.LoginsPerSecond, 1_000_000},
		{"inboxLimit", cfg.InboxLimit, 10_000_000}, {"traceLimit", cfg.TraceLimit, 100_000_000}} {
		if n.v < 0 || n.v > n.max {
			return fmt.Errorf("%s %d: must be between 0 (the default) and %d", n.name, n.v, n.max)
		}
	}
	if d := cfg.withDefaults(); d.HeartbeatDeadline <= d.HeartbeatInterval {
		return fmt.Errorf("heartbeatDeadline %v must be longer than heartbeatInterval %v (clients ping every interval; 90s and 30s by default)",
			d.HeartbeatDeadline, d.HeartbeatInterval)
	}
	if err := cfg.Trace.Validate(); err != nil {
		return err
	}
	if err := cfg.Partition.Validate(); err != nil {
		return err
	}
	if cfg.PushTTL.D() > 28*24*time.Hour {
		return fmt.Errorf("pushTTL %v: FCM keeps messages at most 28 days", cfg.PushTTL)
	}
	return cfg.DefaultCaps.Validate()
}

// LoginPolicy says which logins of one user may coexist.
type LoginPolicy string

// Login policies.
const (
	// PolicyMulti lets every device stay logged in.
	PolicyMulti LoginPolicy = "multi"
	// PolicySinglePlatform (the default) kicks the user's other devices of the same platform.
	PolicySinglePlatform LoginPolicy = "single-platform"
	// PolicySingle kicks all the user's other devices.
	PolicySingle LoginPolicy = "single"
)

// AppConfig is an app (an SDKAppID) as the admin API creates it.
type AppConfig struct {
	SDKAppID uint64 `json:"sdkAppId" yaml:"sdkAppId"`
	Name     string `json:"name,omitempty" yaml:"name"`
	// SecretKey signs the app's UserSigs. It never appears in answers or logs.
	SecretKey   secret.Secret `json:"secretKey" yaml:"secretKey"`
	LoginPolicy LoginPolicy   `json:"loginPolicy,omitempty" yaml:"loginPolicy"`
	Caps        Caps          `json:"caps,omitzero" yaml:"caps"`
	// DefaultLocale is the locale whose texts a device gets when neither its locale nor a
	// shorter form of it has any (a BCP 47 tag; default en).
	DefaultLocale string `json:"defaultLocale,omitempty" yaml:"defaultLocale"`
	// PushTemplates are the app's own texts for what the relay writes into pushes, keyed by
	// locale (BCP 47); see PushTemplate and PushTexts.
	PushTemplates map[string]PushTemplate `json:"pushTemplates,omitempty" yaml:"pushTemplates"`
}

// MinSecretBytes is the shortest app secret the relay accepts.
const MinSecretBytes = 16

// Validate reports what is wrong with an app configuration.
func (a AppConfig) Validate() error {
	if a.SDKAppID == 0 {
		return fmt.Errorf("%w: sdkAppId is required (a positive number such as 1400000001)", ErrInvalid)
	}
	if len(a.SecretKey.Reveal()) < MinSecretBytes {
		return fmt.Errorf("%w: app %d: secretKey must be at least %d bytes", ErrInvalid, a.SDKAppID, MinSecretBytes)
	}
	switch a.LoginPolicy {
	case "", PolicyMulti, PolicySinglePlatform, PolicySingle:
	default:
		return fmt.Errorf("%w: app %d: loginPolicy %q: use multi, single-platform or single", ErrInvalid, a.SDKAppID, a.LoginPolicy)
	}
	if err := a.Caps.Validate(); err != nil {
		return fmt.Errorf("%w: app %d: %v", ErrInvalid, a.SDKAppID, err)
	}
	if _, _, err := ValidatePushTemplates(a.DefaultLocale, a.PushTemplates); err != nil {
		return fmt.Errorf("%w: app %d: %v", ErrInvalid, a.SDKAppID, err)
	}
	return nil
}

// Normalized returns the app with its locales in canonical form (zh_cn as zh-CN); call it on a
// valid app.
func (a AppConfig) Normalized() AppConfig {
	if def, ts, err := ValidatePushTemplates(a.DefaultLocale, a.PushTemplates); err == nil {
		a.DefaultLocale, a.PushTemplates = def, ts
	}
	return a
}

// validID reports whether s may be a user, device, group or conversation ID: 1 to 128 of
// A-Z a-z 0-9 _ . @ : + - (the pattern ^[A-Za-z0-9_.@:+-]{1,128}$, checked by hand: every
// message checks several IDs, and the regexp was a tenth of the relay's time per message).
func validID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		case b == '_', b == '.', b == '@', b == ':', b == '+', b == '-':
		default:
			return false
		}
	}
	return true
}
