// Command relay serves the IM relay: the app WebSocket, the admin API, /healthz and /metrics,
// with its state in a SQLite file or a PostgreSQL database and pushes through FCM (or a fakefcm).
// See the README.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/pushlab/pushlab/internal/httpserver"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/internal/tlscert"
	"github.com/pushlab/pushlab/internal/yamlfile"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/cluster/natsbus"
	"github.com/pushlab/pushlab/relay/journalstore"
	"github.com/pushlab/pushlab/relay/pgstore"
	"github.com/pushlab/pushlab/relay/sender"
	"github.com/pushlab/pushlab/relay/server"
	"github.com/pushlab/pushlab/relay/sqlitestore"
)

// adminKeyEnv names the environment variable the admin key may come from.
const adminKeyEnv = "PUSHLAB_ADMIN_KEY"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "relay:", err)
		os.Exit(1)
	}
}

// memoryDB is the --db value that keeps the state in memory.
const memoryDB = ":memory:"

func run(args []string) error {
	fs := flag.NewFlagSet("relay", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:4100", "address to listen on")
	dbPath := fs.String("db", "relay.db", "SQLite file holding the relay's state (:memory: keeps it in memory, for measurements)")
	journal := fs.String("journal", "", "journal file holding the relay's state instead of --db: the state in memory, every change appended to the file (faster than SQLite; see the README)")
	postgres := fs.String("postgres", "", "PostgreSQL URL (postgres://user:password@host:port/db, or key=value pairs) to hold the relay's state instead of --db; defaults to the config file's postgres")
	configPath := fs.String("config", "", "YAML file: the relay's rules, and apps and certificates to create at start (see the README)")
	adminKey := fs.String("admin-key", "", "key of the admin API (Authorization: Bearer KEY); defaults to $"+adminKeyEnv)
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	tlsCert := fs.String("tls-cert", "", "PEM certificate chain (leaf first) to serve TLS with: wss:// and https://; with --tls-key (default: plain HTTP, or the config file's tlsCert)")
	tlsKey := fs.String("tls-key", "", "PEM private key of --tls-cert")
	clusterFl := addClusterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: use debug, info, warn or error", *logLevel)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	key := *adminKey
	if key == "" {
		key = os.Getenv(adminKeyEnv)
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
	dbSet := false
	fs.Visit(func(f *flag.Flag) { dbSet = dbSet || f.Name == "db" })
	pgGiven := *postgres
	if pgGiven == "" {
		pgGiven = fc.Postgres.Reveal()
	}
	if *journal != "" && *clusterFl.on {
		return errors.New("--journal with --cluster: a cluster keeps its state in PostgreSQL, shared by the nodes; give --postgres, not --journal")
	}
	cs, err := clusterFl.resolve(fs, fc, *configPath, dbSet, pgGiven)
	if err != nil {
		return err
	}
	// TLS files that cannot serve stop the relay here, before it opens its store or listens.
	certs, err := loadTLS(*tlsCert, *tlsKey, fc, *configPath, log)
	if err != nil {
		return err
	}
	store, storeAttrs, err := openStore(fs, storeFlags{db: *dbPath, postgres: *postgres, journal: *journal}, fc, *configPath, log)
	if err != nil {
		return err
	}
	defer store.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", *listen, err)
	}
	var clusterCfg *server.ClusterConfig
	if cs != nil {
		pg, ok := store.(*pgstore.Store)
		if !ok {
			ln.Close()
			return errors.New("--cluster: the store is not PostgreSQL")
		}
		bus, err := natsbus.Connect(natsbus.Config{URL: cs.nats, Name: cs.nodeID, Logger: log})
		if err != nil {
			ln.Close()
			return fmt.Errorf("--nats: %w", err)
		}
		defer bus.Close()
		table := pg.LeaseTable()
		clusterCfg = &server.ClusterConfig{NodeID: cs.nodeID, Name: cs.name, Partitions: cs.partitions, LeaseTTL: cs.leaseTTL,
			Bus: bus, Leases: table, Members: table}
		storeAttrs = append(storeAttrs, "node", cs.nodeID, "cluster", cs.name, "nats", natsbus.RedactURL(cs.nats),
			"partitions", cs.partitions, "leaseTTL", cs.leaseTTL.String())
	}
	srv, err := server.New(ctx, server.Config{
		Core:           fc.Relay,
		Store:          store,
		Sender:         sender.New(sender.Config{Timeout: fc.SendTimeout.D(), Logger: log}),
		AdminKey:       secret.New(key),
		Logger:         log,
		MaxConnections: fc.MaxConnections,
		SendWorkers:    fc.SendWorkers,
		Overload:       fc.Overload,
		Cluster:        clusterCfg,
	})
	if err != nil {
		ln.Close()
		return err
	}
	defer srv.Close()
	if err := srv.Provision(ctx, fc); err != nil {
		ln.Close()
		return fmt.Errorf("--config: %w", err)
	}
	// SIGHUP reads the TLS files again (a renewed certificate); without TLS it keeps its default.
	var hup chan os.Signal
	var tlsCfg *tls.Config
	if certs != nil {
		tlsCfg = certs.ServerConfig()
		hup = make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
	}
	// The serving path server.Listen uses; its stop closes the app connections, which net/http
	// does not track.
	sln, url := httpserver.WithTLS(ln, tlsCfg)
	serving := httpserver.ServeLogged(sln, srv.Handler(), srv.Close, log)
	attrs := append([]any{"url", url}, storeAttrs...)
	if certs != nil {
		attrs = append(attrs, "tlsNotAfter", certs.NotAfter())
	}
	log.Info("relay listening", attrs...)

	var runErr error
wait:
	for {
		select {
		case <-serving.Done():
			runErr = serving.Err()
			break wait
		case <-srv.Done():
			runErr = fmt.Errorf("stopped: %w", srv.Err())
			break wait
		case <-ctx.Done():
			log.Info("relay shutting down")
			break wait
		case <-hup:
			if err := certs.Reload(); err != nil {
				log.Error("TLS certificate not reloaded: the previous one stays in service", "err", err)
			} else {
				log.Info("TLS certificate reloaded", "tlsNotAfter", certs.NotAfter())
			}
		}
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := serving.Shutdown(shutdownCtx); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

// storeFlags are the flags that name the relay's store.
type storeFlags struct{ db, postgres, journal string }

// maxJournalTraceEntries bounds trace.maxEntries on the journal store, which keeps the push
// trace in memory (a few hundred bytes an entry).
const maxJournalTraceEntries = 10_000_000

// openStore opens the store the flags and the config file name: PostgreSQL (--postgres, or
// the file's postgres), a journal (--journal), the SQLite file of --db, or memory (--db
// :memory:). Two of them named together are refused, not one of them ignored; --postgres
// replaces the file's postgres, and the log says so. It answers the store and the log
// attributes that name it (the URL without its password).
func openStore(fs *flag.FlagSet, fl storeFlags, fc *server.FileConfig, configPath string, log *slog.Logger) (relay.Store, []any, error) {
	dbSet := false
	fs.Visit(func(f *flag.Flag) { dbSet = dbSet || f.Name == "db" })
	pgURL, where := fl.postgres, "--postgres"
	switch {
	case pgURL != "" && !fc.Postgres.IsZero():
		log.Warn("--postgres replaces the config file's postgres", "config", configPath)
	case pgURL == "" && !fc.Postgres.IsZero():
		pgURL, where = fc.Postgres.Reveal(), configPath+": postgres"
	}
	if fl.journal != "" {
		return openJournal(fl, dbSet, pgURL, where, fc, log)
	}
	if pgURL != "" {
		if dbSet {
			return nil, nil, fmt.Errorf("--db %s and %s both name a store: give one (--db for a SQLite file, --postgres or the config file's postgres for PostgreSQL)", fl.db, where)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		st, err := pgstore.Open(ctx, pgURL)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", where, err)
		}
		return st, []any{"postgres", pgstore.Redact(pgURL)}, nil
	}
	if fl.db == memoryDB {
		// For measurements only: everything is lost when the process ends.
		log.Warn("--db :memory: keeps the relay's state in memory only; a restart loses it")
		return relay.NewMemoryStore(), []any{"db", fl.db}, nil
	}
	st, err := sqlitestore.Open(fl.db)
	if err != nil {
		return nil, nil, fmt.Errorf("--db: %w", err)
	}
	return st, []any{"db", fl.db}, nil
}

// openJournal opens the journal store of --journal, refusing it beside another store's flag and
// with a push trace too big to keep in memory.
func openJournal(fl storeFlags, dbSet bool, pgURL, where string, fc *server.FileConfig, log *slog.Logger) (relay.Store, []any, error) {
	switch {
	case dbSet:
		return nil, nil, fmt.Errorf("--db %s and --journal %s both name a store: give one", fl.db, fl.journal)
	case pgURL != "":
		return nil, nil, fmt.Errorf("%s and --journal %s both name a store: give one", where, fl.journal)
	case fc.Relay.Trace.MaxEntries > maxJournalTraceEntries:
		return nil, nil, fmt.Errorf("--journal keeps the push trace in memory: trace.maxEntries %d is more than it keeps (%d); lower it, or use --db for a trace on disk",
			fc.Relay.Trace.MaxEntries, maxJournalTraceEntries)
	}
	st, err := journalstore.Open(journalstore.Config{Path: fl.journal, Log: log})
	if err != nil {
		return nil, nil, fmt.Errorf("--journal: %w", err)
	}
	return st, []any{"journal", fl.journal}, nil
}

// loadTLS reads the TLS certificate and key to serve with, or returns nil for plain HTTP. The
// flags, when either is given, replace the config file's tlsCert and tlsKey as a pair (and the
// log says so); the pair must come whole, and files that cannot serve are refused naming them.
func loadTLS(flagCert, flagKey string, fc *server.FileConfig, configPath string, log *slog.Logger) (*tlscert.Pair, error) {
	cert, key, where := fc.TLSCert, fc.TLSKey, configPath+": tlsCert and tlsKey"
	if flagCert != "" || flagKey != "" {
		if cert != "" || key != "" {
			log.Warn("--tls-cert and --tls-key replace the config file's tlsCert and tlsKey", "config", configPath)
		}
		cert, key, where = flagCert, flagKey, "--tls-cert and --tls-key"
	}
	if cert == "" && key == "" {
		return nil, nil
	}
	p, err := tlscert.Load(cert, key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return p, nil
}
