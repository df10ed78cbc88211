package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
)

// Reloads while nginx auth requests and gateway requests run: every
// request succeeds with the old or the new answer, none is refused or cut
// (listeners stay open, in-flight requests finish on their generation).
func TestReloadUnderLoadFailsNothing(t *testing.T) {
	f := startReloadFixture(t, fileVersion{filterPort: 1143, origin: "a"})
	const (
		workers     = 4
		maxPerLoop  = 3000 // bound on each worker's loop
		minReloads  = 6
		maxReloads  = 200
		minRequests = 600
	)
	var (
		stop      atomic.Bool
		requests  atomic.Int64
		failures  atomic.Int64
		firstFail atomic.Value
		wg        sync.WaitGroup
	)
	fail := func(err error) {
		failures.Add(1)
		firstFail.CompareAndSwap(nil, err.Error())
	}
	for range workers {
		wg.Go(func() {
			for i := 0; i < maxPerLoop && !stop.Load(); i++ {
				requests.Add(1)
				port, err := f.nginxPort()
				if err == nil && port != "1143" && port != "2143" {
					err = fmt.Errorf("nginx answered port %q", port)
				}
				if err != nil {
					fail(fmt.Errorf("nginx: %w", err))
				}
			}
		})
		wg.Go(func() {
			for i := 0; i < maxPerLoop && !stop.Load(); i++ {
				requests.Add(1)
				body, err := f.gateway()
				if err == nil && body != "origin-a" && body != "origin-b" {
					err = fmt.Errorf("gateway answered %q", body)
				}
				if err != nil {
					fail(fmt.Errorf("gateway: %w", err))
				}
			}
		})
	}
	// Reload until the workers have sent enough requests around the swaps
	// (bounded either way).
	versions := []fileVersion{{filterPort: 2143, origin: "b"}, {filterPort: 1143, origin: "a"}}
	n := 0
	for ; n < maxReloads && (n < minReloads || requests.Load() < minRequests); n++ {
		f.write(versions[n%2])
		if status, a := f.reload(); status != 200 {
			t.Errorf("reload %d: %d %+v", n, status, a)
		}
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d requests during %d reloads", requests.Load(), n)
	if n := failures.Load(); n > 0 {
		t.Errorf("%d of %d requests failed; first: %v", n, requests.Load(), firstFail.Load())
	}
}

// A gateway request in flight during a reload finishes on the old route;
// the old generation is closed only after it ended.
func TestReloadLetsInFlightRequestFinish(t *testing.T) {
	f := startReloadFixture(t, fileVersion{filterPort: 1143, origin: "a"})
	entered, release := make(chan struct{}), make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(entered)
		<-release
		_, _ = io.WriteString(w, "slow-old")
	}))
	defer slow.Close()
	f.originA.Close()
	f.originA = slow
	f.write(fileVersion{filterPort: 1143, origin: "a"})
	if status, a := f.reload(); status != 200 || a.Generation != 2 {
		t.Fatalf("reload to the slow origin: %d %+v", status, a)
	}
	if id := <-f.closedGens; id != 1 {
		t.Fatalf("closed generation %d, want 1", id)
	}

	type result struct {
		body string
		err  error
	}
	inflight := make(chan result, 1)
	go func() { b, err := f.gateway(); inflight <- result{b, err} }()
	<-entered
	f.write(fileVersion{filterPort: 2143, origin: "b"})
	if status, a := f.reload(); status != 200 || a.Generation != 3 {
		t.Fatalf("reload: %d %+v", status, a)
	}
	f.want("origin-b", "2143")
	select {
	case id := <-f.closedGens:
		t.Fatalf("generation %d closed with a request in flight", id)
	default:
	}
	close(release)
	if r := <-inflight; r.err != nil || r.body != "slow-old" {
		t.Errorf("in-flight request: %q %v", r.body, r.err)
	}
	if id := <-f.closedGens; id != 2 {
		t.Errorf("closed generation %d, want 2", id)
	}
}

// Several reloads, good and bad, leave no goroutine behind once the daemon
// stopped: old generations' Lua states and upstream connections are freed.
func TestReloadsLeakNoGoroutines(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	f := startReloadFixture(t, fileVersion{filterPort: 1143, origin: "a"})
	versions := []fileVersion{
		{filterPort: 2143, origin: "b"},
		{filterPort: 2143, origin: "b", luaSource: "syntax error here"},
		{filterPort: 1143, origin: "a"},
		{filterPort: 2143, origin: "b"},
	}
	for _, v := range versions {
		f.write(v)
		f.reload()
		f.want(map[string]string{"a": "origin-a", "b": "origin-b"}[v.origin], fmt.Sprint(v.filterPort))
	}
	f.stop()
	f.originA.Close()
	f.originB.Close()
}
