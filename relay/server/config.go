package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/pushlab/pushlab/internal/duration"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/internal/yamlfile"
	"github.com/pushlab/pushlab/relay"
)

// FileConfig is the YAML file `relay --config` reads: the relay's rules, limits, and the apps and
// certificates to create (or update) at start. Secrets may be given inline or, better, as files.
type FileConfig struct {
	// Relay holds the core's settings: heartbeatDeadline, pushTTL, retry, defaultCaps, …
	Relay relay.Config `yaml:"relay"`
	// MaxConnections bounds open app connections (0: no bound).
	MaxConnections int `yaml:"maxConnections"`
	// SendWorkers bounds pushes in flight to FCM (0: 64).
	SendWorkers int `yaml:"sendWorkers"`
	// SendTimeout bounds one push attempt (0: 10 s).
	SendTimeout duration.Duration `yaml:"sendTimeout"`
	// Overload says when the relay is over capacity and answers sends 5003 (busy):
	// maxUnansweredPushes (0: 16 per send worker), maxPushWait (0: 250 ms) and maxWaitingEvents
	// (0: 1024).
	Overload OverloadConfig `yaml:"overload"`
	// TLSCert and TLSKey are PEM files (the certificate chain, leaf first, and its private key)
	// to serve the app WebSocket and the admin API over TLS with: wss:// and https://. Both or
	// neither; neither serves plain HTTP. The relay's --tls-cert and --tls-key replace them.
	TLSCert string `yaml:"tlsCert"`
	// Postgres is a PostgreSQL connection URL (or key=value string) to keep the relay's state in,
	// instead of the SQLite file of --db; the relay's --postgres replaces it. A secret: it may hold
	// a password.
	Postgres secret.Secret `yaml:"postgres"`
	// Cluster configures the relay as one node of a cluster (relay --cluster; DESIGN.md §11);
	// the relay's --node-id, --nats, --cluster-name, --partitions and --lease-ttl replace its
	// keys.
	Cluster      ClusterFile       `yaml:"cluster"`
	TLSKey       string            `yaml:"tlsKey"`
	Apps         []AppFile         `yaml:"apps"`
	Certificates []CertificateFile `yaml:"certificates"`
}

// ClusterFile is the config file's cluster section.
type ClusterFile struct {
	// NodeID names this node (letters, digits, '-' and '_').
	NodeID string `yaml:"nodeId"`
	// NATS is the NATS URL the nodes talk over; a secret: it may hold credentials.
	NATS secret.Secret `yaml:"nats"`
	// Name names the cluster in the bus's subjects (default pushlab).
	Name string `yaml:"name"`
	// Partitions is the fixed partition count (default 64); the same on every node.
	Partitions int `yaml:"partitions"`
	// LeaseTTL is how long a partition's lease holds without renewal (default 10s).
	LeaseTTL duration.Duration `yaml:"leaseTTL"`
}

// IsZero reports whether the section is absent.
func (c ClusterFile) IsZero() bool {
	return c.NodeID == "" && c.NATS.IsZero() && c.Name == "" && c.Partitions == 0 && c.LeaseTTL == 0
}

// AppFile is an app to create at start.
type AppFile struct {
	SDKAppID      uint64            `yaml:"sdkAppId"`
	Name          string            `yaml:"name"`
	SecretKey     secret.Secret     `yaml:"secretKey"`
	SecretKeyFile string            `yaml:"secretKeyFile"`
	LoginPolicy   relay.LoginPolicy `yaml:"loginPolicy"`
	Caps          relay.Caps        `yaml:"caps"`
	// DefaultLocale and PushTemplates are the app's texts for pushes (relay.AppConfig).
	DefaultLocale string                        `yaml:"defaultLocale"`
	PushTemplates map[string]relay.PushTemplate `yaml:"pushTemplates"`
}

// CertificateFile is a certificate to create at start; its secrets come from files.
type CertificateFile struct {
	ID                 int64  `yaml:"id"`
	App                uint64 `yaml:"app"`
	PackageName        string `yaml:"packageName"`
	SenderID           string `yaml:"senderId"`
	ServiceAccountFile string `yaml:"serviceAccountFile"`
	ServerKeyFile      string `yaml:"serverKeyFile"`
	Endpoint           string `yaml:"endpoint"`
	// ChannelID is the certificate's default Android notification channel.
	ChannelID string `yaml:"channelId"`
}

// ParseFileConfig reads a relay config file; errors name file:line:column.
func ParseFileConfig(name string, data []byte) (*FileConfig, error) {
	var fc FileConfig
	if err := yamlfile.Decode(name, data, &fc); err != nil {
		return nil, err
	}
	for i, a := range fc.Apps {
		if _, _, err := relay.ValidatePushTemplates(a.DefaultLocale, a.PushTemplates); err != nil {
			return nil, fmt.Errorf("%s: apps[%d] (sdkAppId %d): %w", name, i, a.SDKAppID, err)
		}
		if a.SecretKeyFile != "" {
			b, err := os.ReadFile(a.SecretKeyFile)
			if err != nil {
				return nil, fmt.Errorf("%s: apps[%d]: secretKeyFile: %w", name, i, err)
			}
			fc.Apps[i].SecretKey = secret.New(strings.TrimSpace(string(b)))
		}
	}
	return &fc, nil
}

// Provision creates or updates the file's apps and certificates through the core, as the admin
// API would.
func (s *Server) Provision(ctx context.Context, fc *FileConfig) error {
	for _, a := range fc.Apps {
		cfg := relay.AppConfig{SDKAppID: a.SDKAppID, Name: a.Name, SecretKey: a.SecretKey, LoginPolicy: a.LoginPolicy, Caps: a.Caps,
			DefaultLocale: a.DefaultLocale, PushTemplates: a.PushTemplates}
		if _, err := s.call(ctx, func(now time.Time) (any, error) { return s.upsertApp(now, cfg) }); err != nil {
			return fmt.Errorf("app %d: %w", a.SDKAppID, err)
		}
	}
	for _, c := range fc.Certificates {
		cert := relay.Certificate{ID: c.ID, SDKAppID: c.App, Platform: "google", PackageName: c.PackageName, SenderID: c.SenderID, Endpoint: c.Endpoint, ChannelID: c.ChannelID}
		for _, f := range []struct {
			path string
			dst  *secret.Secret
		}{{c.ServiceAccountFile, &cert.ServiceAccount}, {c.ServerKeyFile, &cert.ServerKey}} {
			if f.path == "" {
				continue
			}
			b, err := os.ReadFile(f.path)
			if err != nil {
				return fmt.Errorf("certificate %d: %w", c.ID, err)
			}
			*f.dst = secret.New(strings.TrimSpace(string(b)))
		}
		if _, err := s.call(ctx, func(now time.Time) (any, error) { return s.upsertCertificate(now, cert) }); err != nil {
			return fmt.Errorf("certificate %d: %w", c.ID, err)
		}
	}
	return nil
}

func (s *Server) upsertApp(now time.Time, cfg relay.AppConfig) (relay.AppView, error) {
	v, err := s.putApp(now, cfg, true)
	if errors.Is(err, relay.ErrExists) {
		return s.putApp(now, cfg, false)
	}
	return v, err
}

func (s *Server) upsertCertificate(now time.Time, cert relay.Certificate) (relay.CertificateView, error) {
	v, err := s.putCertificate(now, cert, true)
	if errors.Is(err, relay.ErrExists) {
		return s.putCertificate(now, cert, false)
	}
	return v, err
}
