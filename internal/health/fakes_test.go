package health

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/backline/backline/internal/probe"
)

const testPassword = "hunter2-never-logged"

func mailTarget(name string, port int, deep bool) *probe.Target {
	return &probe.Target{
		Name: name, Protocol: "imap", Host: "127.0.0.1", Port: port, DeepCheck: deep,
		Username: "healthcheck-user", Password: testPassword,
		ConnectTimeout: time.Second, TLSTimeout: time.Second, DeepTimeout: time.Second,
	}
}

// scriptChecker answers each (target, phase) from a script, one entry per
// call; the last entry repeats. A target without a script succeeds.
type scriptChecker struct {
	mu     sync.Mutex
	script map[string][]bool // key target name + "/" + phase
	calls  []string
}

func (c *scriptChecker) Check(ctx context.Context, t *probe.Target, phase probe.Phase, _ probe.Options) probe.Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := t.Name + "/" + string(phase)
	c.calls = append(c.calls, key)
	ok := true
	if s := c.script[key]; len(s) > 0 {
		ok = s[0]
		if len(s) > 1 {
			c.script[key] = s[1:]
		}
	}
	if ok {
		return probe.Result{Phase: phase, OK: true, Duration: time.Millisecond,
			Steps: []probe.Step{{Name: "connect", Duration: time.Millisecond}}}
	}
	return probe.Result{Phase: phase, Reason: probe.ReasonRefused, Duration: time.Millisecond,
		Err: fmt.Errorf("connect to %s refused", t.Address())}
}

func (c *scriptChecker) callList() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.calls...)
}

// checkerFunc adapts a function.
type checkerFunc func(ctx context.Context, t *probe.Target, phase probe.Phase) probe.Result

func (f checkerFunc) Check(ctx context.Context, t *probe.Target, phase probe.Phase, _ probe.Options) probe.Result {
	return f(ctx, t, phase)
}

// harness runs an engine in the background and lets a test wait for
// published snapshots without sleeping.
type harness struct {
	e         *Engine
	snapshots chan *Snapshot
	cancel    context.CancelFunc
	done      chan struct{}
}

func startEngine(t *testing.T, groups []Group, checker probe.Checker, opts Options, hooks ...func(*Engine)) *harness {
	t.Helper()
	e, err := New(groups, checker, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return startEngineFrom(t, e, hooks...)
}

func startEngineFrom(t *testing.T, e *Engine, hooks ...func(*Engine)) *harness {
	t.Helper()
	h := &harness{e: e, snapshots: make(chan *Snapshot, 1024), done: make(chan struct{})}
	e.published = func(s *Snapshot) {
		select {
		case h.snapshots <- s:
		default: // a test that stopped reading does not block the engine
		}
	}
	for _, hook := range hooks {
		hook(e)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() {
		defer close(h.done)
		e.Run(ctx)
	}()
	t.Cleanup(h.stop)
	return h
}

func (h *harness) stop() {
	h.cancel()
	<-h.done
}

// next waits for the next published snapshot; the bound only guards
// against a hung test, it is not a timing assertion.
func (h *harness) next(t *testing.T) *Snapshot {
	t.Helper()
	select {
	case s := <-h.snapshots:
		return s
	case <-time.After(30 * time.Second):
		t.Fatal("no snapshot published")
		return nil
	}
}

// fresh drops the snapshots published so far and the next one, which a
// round under way may have begun before the call, and returns the one
// after: a round that began after the call. With 1 ms intervals rounds
// pile up in the buffer while a test goroutine waits for the CPU, so the
// next snapshot after a change can be one of many from before it.
func (h *harness) fresh(t *testing.T) *Snapshot {
	t.Helper()
	for drained := false; !drained; {
		select {
		case <-h.snapshots:
		default:
			drained = true
		}
	}
	h.next(t)
	return h.next(t)
}

// rounds waits for n published snapshots and returns the last.
func (h *harness) rounds(t *testing.T, n int) *Snapshot {
	t.Helper()
	var s *Snapshot
	for range n {
		s = h.next(t)
	}
	return s
}

var errTestRefused = errors.New("refused")

func backendByName(t *testing.T, s *Snapshot, name string) Backend {
	t.Helper()
	for _, b := range s.Backends {
		if b.Target.Name == name {
			return b
		}
	}
	t.Fatalf("no backend %q in snapshot", name)
	return Backend{}
}
