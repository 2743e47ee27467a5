// Package pgserver runs a throwaway PostgreSQL server from the installed server binaries
// (initdb, postgres), listening on a unix socket in a folder of its own, with fsync off: for tests
// (internal/pgtest) and for measurements that need a PostgreSQL of their own (pushsim load
// --nodes). Started as root, the server runs as an unprivileged user (PostgreSQL refuses to run
// as root).
package pgserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// superuser is the role initdb makes; the server trusts every local connection.
const superuser = "pgtest"

// ErrNotInstalled says that PostgreSQL's server binaries were found neither on PATH nor where
// Debian puts them, and what to install.
var ErrNotInstalled = errors.New("PostgreSQL's server is not installed (no initdb on PATH nor in /usr/lib/postgresql/*/bin): " +
	"run `apt-get install postgresql` (as root, or with sudo)")

// Server is a running throwaway PostgreSQL server, listening on a unix socket in its own folder
// only (no TCP port to collide on), with fsync off.
type Server struct {
	dir    string // the socket's folder, holding the data folder and the log
	cmd    *exec.Cmd
	exited chan struct{}
	log    *bytes.Buffer // the server's output, for errors; read after exited
}

// debianBins is where Debian installs each PostgreSQL version's server binaries, off PATH.
const debianBins = "/usr/lib/postgresql/*/bin"

// binDir finds the folder of initdb and postgres: on PATH, or in the newest of the folders
// pattern matches (debianBins).
func binDir(pattern string) (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("postgres"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob(pattern)
	best, bestVersion := "", -1
	for _, d := range dirs {
		v, err := strconv.Atoi(filepath.Base(filepath.Dir(d)))
		if err != nil || v <= bestVersion {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			best, bestVersion = d, v
		}
	}
	if best == "" {
		return "", ErrNotInstalled
	}
	return best, nil
}

// serverUser is whom the server runs as when this process is root: PostgreSQL's own system user
// if there is one, else nobody. It returns nil when this process is not root.
func serverUser() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
	}
	return nil, errors.New("running as root, and neither a postgres nor a nobody user exists to run PostgreSQL as")
}

// tempRoot is where the server's folder goes: /dev/shm when it is a writable tmpfs (a server on
// memory creates databases and tables several times faster than on a disk), else the system's
// temporary folder.
func tempRoot() string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if f, err := os.CreateTemp("/dev/shm", "pgtest-probe-"); err == nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
			return "/dev/shm"
		}
	}
	return os.TempDir()
}

// removeStale removes the folders of servers whose test binary was killed outright (the server
// died with it, by Pdeathsig, but its folder stayed): on /dev/shm they would hold memory until
// a reboot. A folder is stale when its server's postmaster.pid names a process that is gone, or
// when it has none and is more than an hour old (initdb never finished).
func removeStale(root string) {
	dirs, _ := filepath.Glob(filepath.Join(root, "pgtest-*"))
	for _, dir := range dirs {
		st, err := os.Stat(dir)
		if err != nil || !st.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, "data", "postmaster.pid"))
		if err != nil {
			if os.IsNotExist(err) && time.Since(st.ModTime()) > time.Hour {
				_ = os.RemoveAll(dir)
			}
			continue
		}
		line, _, _ := strings.Cut(string(b), "\n")
		pid, err := strconv.Atoi(strings.TrimSpace(line))
		if err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			_ = os.RemoveAll(dir)
		}
	}
}

// Start initializes a data folder in a new temporary folder and starts a server on it, waiting
// until it accepts connections. Stop ends it and removes the folder.
func Start() (_ *Server, err error) {
	bin, err := binDir(debianBins)
	if err != nil {
		return nil, err
	}
	cred, err := serverUser()
	if err != nil {
		return nil, err
	}
	root := tempRoot()
	removeStale(root)
	// A short path: a unix socket's path is limited to about 100 bytes.
	dir, err := os.MkdirTemp(root, "pgtest-")
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir)
		}
	}()
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, fmt.Errorf("start postgres: give %s to the server's user: %w", dir, err)
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "--pgdata", data, "--username", superuser, "--auth", "trust",
		"--encoding", "UTF8", "--locale", "C", "--no-sync", "--no-instructions")
	initdb.Dir = dir
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("start postgres: initdb: %w\n%s", err, out)
	}
	s := &Server{dir: dir, exited: make(chan struct{}), log: &bytes.Buffer{}}
	s.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-k", dir, "-F",
		"-c", "listen_addresses=", "-c", "full_page_writes=off", "-c", "max_connections=200")
	s.cmd.Dir = dir
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	// Pdeathsig: a test binary killed outright takes its server with it.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(30 * time.Second); err != nil {
		_ = s.Stop()
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	return s, nil
}

// waitReady polls a connection until the server answers, it exits, or the deadline passes.
func (s *Server) waitReady(limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	backoff := 5 * time.Millisecond
	for {
		conn, err := pgx.Connect(ctx, s.url("postgres"))
		if err == nil {
			return conn.Close(ctx)
		}
		select {
		case <-s.exited:
			return fmt.Errorf("the server exited before accepting connections:\n%s", s.log)
		case <-ctx.Done():
			return fmt.Errorf("the server did not accept connections within %v: %w", limit, err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 100*time.Millisecond)
	}
}

// url is the connection URL of a database on the server.
func (s *Server) url(db string) string {
	u := url.URL{Scheme: "postgres", User: url.User(superuser), Path: "/" + db,
		RawQuery: url.Values{"host": {s.dir}, "sslmode": {"disable"}}.Encode()}
	return u.String()
}

// CreateDatabase creates a new, empty database and returns its connection URL.
func (s *Server) CreateDatabase(ctx context.Context) (string, error) {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	name := "t_" + hex.EncodeToString(b)
	if err := s.admin(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create test database: %w", err)
	}
	return s.url(name), nil
}

// DropDatabase drops a database CreateDatabase made, closing its connections.
func (s *Server) DropDatabase(ctx context.Context, dsn string) error {
	u, err := url.Parse(dsn)
	if err != nil {
		return err
	}
	return s.admin(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{u.Path[1:]}.Sanitize()+" WITH (FORCE)")
}

func (s *Server) admin(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, s.url("postgres"))
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(ctx) }()
	_, err = conn.Exec(ctx, sql)
	return err
}

// Stop shuts the server down (fast shutdown: open sessions are ended) and removes its folder.
func (s *Server) Stop() error {
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	if err := os.RemoveAll(s.dir); err != nil {
		return fmt.Errorf("stop postgres: %w", err)
	}
	return nil
}
