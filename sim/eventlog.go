package sim

import (
	"fmt"
	"time"
)

// eventLog is the run's event log: a hash of every line, and the lines if kept.
type eventLog struct {
	on    bool
	keep  bool
	lines []string
	hash  interface {
		Write([]byte) (int, error)
		Sum64() uint64
	}
}

func (l *eventLog) add(at time.Time, format string, args ...any) {
	line := at.Format("15:04:05.000000") + " " + fmt.Sprintf(format, args...)
	l.hash.Write([]byte(line))
	l.hash.Write([]byte{'\n'})
	if l.keep {
		l.lines = append(l.lines, line)
	}
}
