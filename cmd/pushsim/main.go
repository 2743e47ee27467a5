// Command pushsim is pushlab's all-in-one tool for QA and CI. See the README for its commands.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// command is one pushsim subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"run", "run scenario files or folders and write report.json, junit.xml and report.html", runRun},
		{"report", "render report.html and junit.xml again from a saved report.json", runReport},
		{"load", "put a staging-sized load on a relay and fakefcm and measure it", runLoad},
		{"validate", "check scenario files without running them", runValidate},
		{"schema", "print the JSON Schema of scenario files", runSchema},
		{"serve", "run a relay and a fakefcm on fixed ports for manual clients", runServe},
		{"usersig", "make a UserSig for a user", runUserSig},
		{"demo", "start fakefcm, send through it with the firebase Admin SDK, print what devices received", runDemo},
		{"bench", "run the benchmarks and print each figure against its goal", runBench},
	}
}

// internalCommands are pushsim's own, left out of the usage: a load worker is started by pushsim
// load.
func internalCommands() []command {
	return []command{
		{"load-worker", "hold a share of pushsim load's phones for it", runLoadWorker},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// dispatch runs the subcommand named by args[0] and returns the process exit code.
func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	for _, c := range append(commands(), internalCommands()...) {
		if c.name == args[0] {
			if err := c.run(ctx, args[1:], stdout, stderr); err != nil {
				fmt.Fprintf(stderr, "pushsim %s: %v\n", c.name, err)
				return exitCode(err)
			}
			return 0
		}
	}
	fmt.Fprintf(stderr, "pushsim: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

// exitError carries a specific exit code (1 = expectations failed, 2 = bad usage or input).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exitCode(err error) int {
	if e, ok := err.(*exitError); ok {
		return e.code
	}
	return 1
}

// nowUnix is the wall clock in Unix seconds (UserSig expiry).
func nowUnix() int64 { return time.Now().Unix() }

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: pushsim COMMAND [flags]")
	fmt.Fprintln(w)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'pushsim COMMAND -h' for a command's flags.")
}
