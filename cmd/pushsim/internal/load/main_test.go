package load

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"
)

// workerEnv, set to 1, makes the test binary a load worker (ServeWorker on its standard input
// and output) instead of running the tests: the spread runs' worker processes.
const workerEnv = "PUSHLAB_LOAD_TEST_WORKER"

func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) == "1" {
		if err := ServeWorker(context.Background(), os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// testWorker is a Config.Worker that runs this test binary as a worker, counting the workers it
// started in started.
func testWorker(started *atomic.Int32) func(ctx context.Context) *exec.Cmd {
	return func(ctx context.Context) *exec.Cmd {
		started.Add(1)
		cmd := exec.CommandContext(ctx, os.Args[0])
		cmd.Env = append(os.Environ(), workerEnv+"=1")
		return cmd
	}
}
