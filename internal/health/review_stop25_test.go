package health

import (
	"context"
	"sync"
	"testing"

	"github.com/backline/backline/internal/probe"
)

// Review of Engine.Changes (stop 25): many stores from several goroutines
// while the one reader is slow never block a writer (each store's send is
// non-blocking into a buffer of one), and never lose the last change: the
// snapshot the reader loads after its last receive is the engine's final
// one, however the stores and receives interleaved.
func TestReviewChangesManyQuickStores(t *testing.T) {
	checker := checkerFunc(func(ctx context.Context, tg *probe.Target, phase probe.Phase) probe.Result {
		return probe.Result{Phase: phase}
	})
	targets := []*probe.Target{mailTarget("a", 1, false), mailTarget("b", 2, false), mailTarget("c", 3, false), mailTarget("d", 4, false)}
	e, err := New([]Group{mailGroup(targets...)}, checker, Options{})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var lastSeen *Snapshot
	reads := 0
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			select {
			case <-e.Changes():
				lastSeen = e.Snapshot()
				reads++
			case <-stop:
				// A store after the last receive left its token.
				select {
				case <-e.Changes():
					lastSeen = e.Snapshot()
					reads++
				default:
				}
				return
			}
		}
	}()
	var wg sync.WaitGroup
	const perWriter = 200
	for _, id := range []string{"a", "b", "c", "d"} {
		wg.Go(func() {
			states := []AdminState{AdminDrain, AdminReady, AdminMaint, AdminReady}
			for i := range perWriter {
				st := states[i%len(states)]
				if _, err := e.SetAdmin(id, AdminChange{State: &st, Who: "review"}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait() // every writer finished: none blocked on a reader that lags
	close(stop)
	<-readerDone
	if lastSeen != e.Snapshot() {
		t.Fatalf("the reader's last snapshot is not the engine's final one (reads %d)", reads)
	}
	if reads == 0 || reads > 4*perWriter+1 {
		t.Errorf("%d reads for %d stores", reads, 4*perWriter)
	}
	select {
	case <-e.Changes():
		t.Error("a token left over with no store after the reader's last receive")
	default:
	}
}
