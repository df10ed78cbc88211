package lua

import (
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Bug: CloseDBPools returned while a KILL QUERY was still under way, so a
// daemon that stopped (or `backline lua test` that ended) right after a
// run abandoned its query exited before the KILL reached the server, and
// the query it was meant to end kept running there; the KILL's goroutine
// outlived the pools. CloseDBPools now waits for the KILLs under way (each
// bounded by dbKillTimeout).
func TestCloseDBPoolsWaitsForKillsUnderWay(t *testing.T) {
	existing := goleak.IgnoreCurrent()
	kills := &killRecorder{hold: make(chan struct{}), entered: make(chan struct{}, 1)}
	p, _, _ := fakeKillPool(t, dbMaxKills, kills)
	h := NewHost()
	s := dbState(h)
	p.killer = s.killer
	s.mu.Lock()
	s.pools["mysql fake"] = p
	s.mu.Unlock()

	p.killQuery(42) // as dbOnConn does for an abandoned query
	go func() {
		<-kills.entered
		// Not a threshold: the KILL is released a little later so that a
		// CloseDBPools that does not wait returns before it.
		time.Sleep(50 * time.Millisecond)
		close(kills.hold)
	}()
	h.CloseDBPools()
	if got := kills.sent(); !slices.Equal(got, []string{"KILL QUERY 42"}) {
		t.Errorf("KILLs sent by the time CloseDBPools returned: %q, want the abandoned query's", got)
	}
	if got := s.killer.count(killKilled); got != 1 {
		t.Errorf("killed counted %d when CloseDBPools returned, want 1", got)
	}
	goleak.VerifyNone(t, existing)
}

// A run may abandon its query while CloseDBPools waits (a handler still
// running past the shutdown's grace): the KILL is started or skipped,
// never a misuse of the wait (a WaitGroup's first Add racing its Wait).
func TestDBKillWhileClosing(t *testing.T) {
	kills := &killRecorder{}
	p, _, _ := fakeKillPool(t, 2, kills)
	for i := range 200 {
		done := make(chan struct{})
		go func() {
			defer close(done)
			p.killQuery(uint64(i + 1))
		}()
		p.killer.wait()
		<-done
	}
	p.killer.wait()
	k := p.killer
	if got := k.count(killKilled) + k.count(killSkipped); got != 200 {
		t.Errorf("killed %d + skipped %d, want 200 in all", k.count(killKilled), k.count(killSkipped))
	}
}
