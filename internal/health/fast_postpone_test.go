package health

import (
	"testing"
	"time"
)

// A connect round that leaves the connect gate alone must not push back
// the re-check a deep failure armed. With connect_interval equal to
// fast_interval (the largest allowed) each connect round came before the
// re-check was due and re-armed it one fast_interval later, so a failing
// deep check was never re-checked early.
func TestFastIntervalConnectRoundsDoNotPostponeDeepRecheck(t *testing.T) {
	clock := newPassiveClock()
	start := clock.now()
	fs := newFakeSched(clock)
	e := &Engine{}
	fs.hook(e)
	g := fastGroup(3, 1, true)
	g.ConnectInterval, g.DeepInterval = 5*time.Second, time.Hour
	l := newGroupLoop(e, 0, g, 1)
	s := newTargetState(&g, mailTarget("d", 1, true), start)
	l.add(s)

	s.deepGate.record(false) // a deep round's failure: counting
	l.planFast(l.deepJobs)
	if d := l.fast.due[s]; !d.Equal(start.Add(5 * time.Second)) {
		t.Fatalf("due %v, want start+5s", d)
	}
	for i := 1; i <= 3; i++ {
		clock.advance(4 * time.Second)
		s.connectGate.record(true) // a connect round; the connect gate stays put
		l.planFast(l.connectJobs)
		if d := l.fast.due[s]; !d.Equal(start.Add(5 * time.Second)) {
			t.Fatalf("after connect round %d: due %v, want start+5s (the deep failure's)", i, d.Sub(start))
		}
	}
	// A result of the counting gate re-arms from that result.
	s.deepGate.record(false)
	l.planFast(l.deepJobs)
	if d := l.fast.due[s]; !d.Equal(clock.now().Add(5 * time.Second)) {
		t.Fatalf("after a second deep failure: due %v, want now+5s", d.Sub(start))
	}
	l.stopFast()
}
