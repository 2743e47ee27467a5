package scenarios

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/yamlfile"
)

// loadWithin loads on another goroutine and fails the test if that takes longer than d.
func loadWithin(t *testing.T, d time.Duration, path string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := Load(path)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("Load(%s) took longer than %v", path, d)
		return nil
	}
}

// TestLoadRefusesAbsurdFiles: a file over the size limit is refused without being read whole (a
// device such as /dev/zero never ends), and YAML bombs and deep nesting are refused at the place
// they start, with the file's name, before go-yaml spends minutes or gigabytes on them.
func TestLoadRefusesAbsurdFiles(t *testing.T) {
	dir := t.TempDir()
	huge := filepath.Join(dir, "huge.yaml")
	require.NoError(t, os.WriteFile(huge, []byte(header+strings.Repeat("# padding\n", yamlfile.MaxSize/10)), 0o600))
	require.ErrorContains(t, loadWithin(t, 10*time.Second, huge), huge+": larger than the 4194304-byte limit")
	if _, err := os.Stat("/dev/zero"); err == nil {
		require.ErrorContains(t, loadWithin(t, 10*time.Second, "/dev/zero"), "/dev/zero: larger than the 4194304-byte limit")
	}

	var bomb strings.Builder
	bomb.WriteString(header + "  - kill: alice-phone\nx0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i < 8; i++ {
		bomb.WriteString("x" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [" +
			strings.TrimSuffix(strings.Repeat("*a"+string(rune('0'+i-1))+", ", 9), ", ") + "]\n")
	}
	bomb.WriteString("description: *a7\n")
	for _, tc := range []struct {
		file, body string
		line, col  int
		msg        string
	}{
		{"bomb.yaml", bomb.String(), 13, 10, "stand for more than 1048576 values once expanded"},
		{"deep.yaml", header + "  - send: {from: bob-phone, to: alice, text: " + strings.Repeat("[", 200_000) + "}\n", 6, 107, "nested deeper than 64 levels"},
		{"dash.yaml", header + "  - " + strings.Repeat("- ", 200_000) + "\n", 6, 131, "nested deeper than 64 levels"},
	} {
		path := filepath.Join(dir, tc.file)
		require.NoError(t, os.WriteFile(path, []byte(tc.body), 0o600))
		err := loadWithin(t, 10*time.Second, path)
		var ye *yamlfile.Error
		require.True(t, errors.As(err, &ye), "%s: want a positioned error, got %v", tc.file, err)
		require.Equal(t, path, ye.File)
		require.Equal(t, []int{tc.line, tc.col}, []int{ye.Line, ye.Column}, err.Error())
		require.Contains(t, err.Error(), tc.msg)
	}
}
