// Command fakefcm serves a fake Firebase Cloud Messaging that the unmodified firebase Admin SDK
// talks to: HTTP v1 (with OAuth for the service accounts it issues), the legacy API, device
// channels and a control API. See the README's fakefcm section.
package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/fakefcm/server"
	"github.com/pushlab/pushlab/internal/httpserver"
	"github.com/pushlab/pushlab/internal/tlscert"
	"github.com/pushlab/pushlab/internal/yamlfile"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "fakefcm:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("fakefcm", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:4000", "address to listen on")
	configPath := fs.String("config", "", "YAML file: behaviour and projects to create at start (see the README)")
	seed := fs.Uint64("seed", 0, "seed for fakefcm's randomness (tokens, jitter, loss); 0 draws one")
	baseURL := fs.String("base-url", "", "address clients reach fakefcm at, for service accounts' token_uri (default http://LISTEN, https://LISTEN with --tls-cert)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	tlsCert := fs.String("tls-cert", "", "PEM certificate chain (leaf first) to serve TLS with: https:// and wss://; with --tls-key (default: plain HTTP)")
	tlsKey := fs.String("tls-key", "", "PEM private key of --tls-cert")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: use debug, info, warn or error", *logLevel)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	// TLS files that cannot serve stop fakefcm here, before it listens.
	var tlsCfg *tls.Config
	if *tlsCert != "" || *tlsKey != "" {
		certs, err := tlscert.Load(*tlsCert, *tlsKey)
		if err != nil {
			return fmt.Errorf("--tls-cert and --tls-key: %w", err)
		}
		tlsCfg = certs.ServerConfig()
	}
	if tlsCfg != nil && strings.HasPrefix(*baseURL, "http://") {
		// Right only behind a proxy that reaches this TLS listener for its clients.
		log.Warn("--base-url is http:// while fakefcm serves TLS: service accounts' token_uri and clients will use it", "baseUrl", *baseURL)
	}

	fc := &server.FileConfig{}
	if *configPath != "" {
		data, err := yamlfile.ReadFile(*configPath)
		if err != nil {
			return fmt.Errorf("--config: %w", err)
		}
		if fc, err = server.ParseFileConfig(*configPath, data); err != nil {
			return err
		}
	}
	if *seed == 0 {
		*seed = fc.Seed
	}
	if *seed == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		*seed = binary.LittleEndian.Uint64(b[:])
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", *listen, err)
	}
	ln, listenURL := httpserver.WithTLS(ln, tlsCfg)
	if *baseURL == "" {
		*baseURL = listenURL
	}
	srv, err := server.New(server.Config{
		Core:    fakefcm.Config{Seed: *seed, Behaviour: fc.Behaviour},
		BaseURL: *baseURL,
		Logger:  log,
	})
	if err != nil {
		ln.Close()
		return err
	}
	defer srv.Close()
	if err := srv.Provision(fc); err != nil {
		ln.Close()
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The serving path server.Listen uses; its stop ends the device channels, which net/http
	// does not track.
	serving := httpserver.ServeLogged(ln, srv.Handler(), srv.Close, log)
	log.Info("fakefcm listening", "url", *baseURL, "seed", *seed)

	select {
	case <-serving.Done():
	case <-ctx.Done():
		log.Info("fakefcm shutting down")
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// After a listener failure, Shutdown returns that failure.
	return serving.Shutdown(shutdownCtx)
}
