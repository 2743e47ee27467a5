// Package procmem reads memory figures as Linux's /proc files give them: the "<key>: <n> kB"
// lines of a process's status, of /proc/meminfo and of smaps_rollup, in bytes.
package procmem

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Field is the value of the "<key>: <n> kB" line of a /proc file's text, in bytes.
func Field(text, key string) (int64, error) {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), key+":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return 0, fmt.Errorf("%s has no value", key)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || kb < 0 || kb > 1<<53 {
			return 0, fmt.Errorf("%s: %q is not a number of kB", key, f[0])
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("no %s line", key)
}

// FileField is Field of the file at path.
func FileField(path, key string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	n, err := Field(string(b), key)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return n, nil
}

// Status is a memory field ("VmRSS", "VmHWM", "VmSize") of process pid's status, in bytes; pid
// 0 is this process.
func Status(pid int, field string) (int64, error) {
	path := "/proc/self/status"
	if pid != 0 {
		path = fmt.Sprintf("/proc/%d/status", pid)
	}
	return FileField(path, field)
}
