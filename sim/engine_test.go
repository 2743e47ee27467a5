package sim

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/timerq"
)

// listPlan is a plan of named events at given offsets from Epoch, which records what ran.
type listPlan struct {
	eng  *Engine
	at   []time.Duration
	name []string
	ran  *[]string
}

func (p *listPlan) nextAt() (int64, bool) {
	if len(p.at) == 0 {
		return 0, false
	}
	return timerq.Nanos(Epoch.Add(p.at[0])), true
}

func (p *listPlan) runNext() {
	*p.ran = append(*p.ran, fmt.Sprintf("%s@%v", p.name[0], p.eng.Now().Sub(Epoch)))
	p.at, p.name = p.at[1:], p.name[1:]
}

// TestEngineInterleavesItsPlanWithItsQueue: a plan's events run at their times among the queued
// ones, after those queued for the same instant, and count as events; a deadline or keep stops
// the plan as it stops the queue, and the plan resumes where it stopped.
func TestEngineInterleavesItsPlanWithItsQueue(t *testing.T) {
	eng := NewEngine(Epoch)
	var ran []string
	queue := func(name string, d time.Duration) {
		eng.At(Epoch.Add(d), func() { ran = append(ran, fmt.Sprintf("%s@%v", name, eng.Now().Sub(Epoch))) })
	}
	eng.follow(&listPlan{eng: eng, ran: &ran,
		at:   []time.Duration{time.Second, 2 * time.Second, 2 * time.Second, 3 * time.Second, 5 * time.Second},
		name: []string{"p1", "p2", "p3", "p4", "p5"}})
	queue("q1", 0)
	queue("q2", 2*time.Second)
	eng.At(Epoch.Add(time.Second), func() { queue("q3", 2*time.Second) }) // queued later, still first at 2 s

	eng.RunUntil(Epoch.Add(3 * time.Second))
	require.Empty(t, cmp.Diff([]string{"q1@0s", "p1@1s", "q2@2s", "q3@2s", "p2@2s", "p3@2s", "p4@3s"}, ran), "p4 is due at the deadline")
	require.Equal(t, uint64(8), eng.Events(), "plan events count as events (and so does q3's scheduling)")
	require.Equal(t, Epoch.Add(3*time.Second), eng.Now())

	ran = nil
	kept := eng.RunWhile(Epoch.Add(10*time.Second), func() bool { return len(ran) == 0 })
	require.False(t, kept)
	require.Equal(t, []string{"p5@5s"}, ran)
	require.Equal(t, Epoch.Add(5*time.Second), eng.Now(), "the clock stops at the event that ended the run")

	eng.RunUntil(Epoch.Add(time.Hour))
	require.Equal(t, []string{"p5@5s"}, ran, "a spent plan runs nothing more")
	require.Equal(t, Epoch.Add(time.Hour), eng.Now())
}

// TestEngineRunsAPlanEventDueInThePastNow: as with At, an event of the plan whose time has
// passed is due at the present, after what is queued for the present; the clock never goes back.
func TestEngineRunsAPlanEventDueInThePastNow(t *testing.T) {
	eng := NewEngine(Epoch)
	eng.RunUntil(Epoch.Add(time.Minute))
	var ran []string
	eng.At(Epoch, func() { ran = append(ran, fmt.Sprintf("queued@%v", eng.Now().Sub(Epoch))) })
	eng.follow(&listPlan{eng: eng, ran: &ran, at: []time.Duration{time.Second}, name: []string{"late"}})
	eng.RunUntil(Epoch.Add(30 * time.Second))
	require.Empty(t, ran, "a deadline already past runs nothing, of the queue or of the plan")
	eng.RunUntil(Epoch.Add(2 * time.Minute))
	require.Equal(t, []string{"queued@1m0s", "late@1m0s"}, ran)
}
