// Package relayproc runs the relay binary as a child process, for measurements that must keep the
// relay apart from its load (memory per connection, open-file limits) and for crash tests that
// kill it with SIGKILL.
package relayproc

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/pushlab/pushlab/internal/procmem"
)

// Options describe a relay process.
type Options struct {
	// Bin is the relay binary; empty means Locate().
	Bin string
	// DB is the SQLite file; empty means relay.db in a new temporary folder (unless Postgres or
	// Journal).
	DB string
	// Postgres, if set, is the PostgreSQL URL the relay keeps its state in (--postgres), instead
	// of a SQLite file.
	Postgres string
	// Journal, if set, is the journal file the relay keeps its state in (--journal), instead of
	// a SQLite file.
	Journal string
	// StoreInConfig says the config file names the store (its postgres): neither --db nor
	// --postgres is passed.
	StoreInConfig bool
	// Config is a YAML config file to pass with --config; empty passes none.
	Config string
	// AdminKey is passed in the environment, never on the command line.
	AdminKey string
	// Listen is the address; empty means 127.0.0.1:0.
	Listen string
	// Args are more flags for the relay, such as --tls-cert and --tls-key.
	Args []string
	// Env is added to the relay's environment, such as SSL_CERT_FILE.
	Env []string
	// Stderr receives the relay's log lines too; nil discards them after reading the URL.
	Stderr io.Writer
}

// Process is a running relay.
type Process struct {
	// URL is the relay's base URL from its "relay listening" line: https://… when it serves TLS.
	URL  string
	DB   string
	cmd  *exec.Cmd
	done chan error
}

// Locate finds the relay binary: next to the running executable (bin/ after make build), or on
// PATH.
func Locate() (string, error) {
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "relay")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	if p, err := exec.LookPath("relay"); err == nil {
		return p, nil
	}
	return "", errors.New("relay binary not found next to this program or on PATH: run 'make build' (it writes bin/relay)")
}

// Build compiles cmd/relay from the module's source into dir and returns the binary's path, for
// tests that run the relay as a process (go's build cache makes it quick after the first time).
func Build(dir string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(dir, "relay")
	if out, err := exec.Command(goBin, "build", "-o", bin, "github.com/pushlab/pushlab/cmd/relay").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/relay: %w: %s", err, out)
	}
	return bin, nil
}

// Start starts a relay and waits until it listens.
func Start(ctx context.Context, o Options) (*Process, error) {
	if o.Bin == "" {
		var err error
		if o.Bin, err = Locate(); err != nil {
			return nil, err
		}
	}
	tmp := "" // a folder of our own for the database, removed once the relay has exited
	if o.DB == "" && o.Postgres == "" && o.Journal == "" && !o.StoreInConfig {
		var err error
		if tmp, err = os.MkdirTemp("", "pushlab-relay-"); err != nil {
			return nil, err
		}
		o.DB = filepath.Join(tmp, "relay.db")
	}
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	args := []string{"--listen", o.Listen}
	switch {
	case o.Postgres != "":
		args = append(args, "--postgres", o.Postgres)
	case o.Journal != "":
		args = append(args, "--journal", o.Journal)
	case !o.StoreInConfig:
		args = append(args, "--db", o.DB)
	}
	if o.Config != "" {
		args = append(args, "--config", o.Config)
	}
	args = append(args, o.Args...)
	cmd := exec.Command(o.Bin, args...)
	cmd.Env = append(append(os.Environ(), o.Env...), "PUSHLAB_ADMIN_KEY="+o.AdminKey)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		if tmp != "" {
			_ = os.RemoveAll(tmp)
		}
		return nil, fmt.Errorf("start relay %s: %w", o.Bin, err)
	}
	p := &Process{DB: o.DB, cmd: cmd, done: make(chan error, 1)}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		sent := false
		var last string
		for sc.Scan() {
			line := sc.Text()
			last = line
			if o.Stderr != nil {
				fmt.Fprintln(o.Stderr, line)
			}
			var entry struct {
				Msg string `json:"msg"`
				URL string `json:"url"`
			}
			if !sent && json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "relay listening" {
				urls <- entry.URL
				sent = true
			}
		}
		err := cmd.Wait()
		if err != nil && last != "" {
			err = fmt.Errorf("%w (last log line: %s)", err, last)
		}
		if tmp != "" {
			_ = os.RemoveAll(tmp)
		}
		p.done <- err
		close(p.done)
	}()
	select {
	case p.URL = <-urls:
		return p, nil
	case err := <-p.done:
		return nil, fmt.Errorf("relay exited before listening: %v", err)
	case <-ctx.Done():
		p.Kill()
		return nil, ctx.Err()
	case <-time.After(30 * time.Second):
		p.Kill()
		return nil, errors.New("relay did not listen within 30s")
	}
}

// PID is the relay's process ID.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// RSS reads the relay's resident memory in bytes from /proc.
func (p *Process) RSS() (int64, error) { return procmem.Status(p.PID(), "VmRSS") }

// Kill stops the relay with SIGKILL, as a crash would, and waits for it to be gone. It does
// nothing to a relay already gone, so it may be called again.
func (p *Process) Kill() error {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	return nil
}

// Stop asks the relay to shut down (SIGTERM) and waits; it returns the relay's exit error.
func (p *Process) Stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		return err
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
		return errors.New("relay did not stop within 20s of SIGTERM; killed")
	}
}

// Pause stops the relay with SIGSTOP: it takes no input, runs no timer and renews nothing until
// Resume, as a process stalled by its host would.
func (p *Process) Pause() error { return p.cmd.Process.Signal(syscall.SIGSTOP) }

// Resume lets a paused relay run again (SIGCONT).
func (p *Process) Resume() error { return p.cmd.Process.Signal(syscall.SIGCONT) }
