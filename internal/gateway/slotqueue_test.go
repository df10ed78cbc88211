package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// steppedOrigin reports each request's n as it arrives and holds it until
// the test lets one go (step) or the test ends.
type steppedOrigin struct {
	*httptest.Server
	arrived chan string
	step    chan struct{}
	stop    chan struct{}
}

func newSteppedOrigin(t *testing.T) *steppedOrigin {
	o := &steppedOrigin{arrived: make(chan string, 16), step: make(chan struct{}), stop: make(chan struct{})}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.arrived <- r.URL.Query().Get("n")
		select {
		case <-o.step:
		case <-o.stop:
		case <-r.Context().Done():
		}
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(func() {
		close(o.stop)
		o.Close()
	})
	return o
}

// next lets the request at the origin go and returns the n of the one that
// arrives after it.
func (o *steppedOrigin) next(t *testing.T) string {
	t.Helper()
	o.step <- struct{}{}
	return <-o.arrived
}

type queueResult struct {
	n      string
	status int
	header http.Header
	body   string
	err    error
}

// sendQueued runs GET /x?n=<n> on its own goroutine; the result comes on out.
func (h *harness) sendQueued(ctx context.Context, n string, out chan<- queueResult) {
	go func() {
		r := queueResult{n: n}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.srv.URL+"/x?n="+n, nil)
		resp, err := h.client.Do(req)
		if err != nil {
			r.err = err
			out <- r
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		r.status, r.header, r.body = resp.StatusCode, resp.Header, string(b)
		out <- r
	}()
}

func queueHarness(t *testing.T, o *steppedOrigin, backend string) (*harness, *backendRuntime) {
	t.Helper()
	h := newHarness(t, gatewayYAML(o.URL, backend, "    - path: /x\n      proxy:\n        backend: api\n"))
	return h, h.gw.backends["api"]
}

func (q *slotQueue) slotsInUse() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.inUse
}

func expectOverloaded(t *testing.T, resp *http.Response, body string) {
	t.Helper()
	expectError(t, resp, body, http.StatusServiceUnavailable, "backend_overloaded")
	if got := resp.Header.Get("Retry-After"); got != "1" {
		t.Fatalf("Retry-After = %q, want 1", got)
	}
}

// With one slot and a queue of two, the fourth concurrent request is
// refused at once (nothing has been let go at the origin yet), and the
// queue keeps its order.
func TestSlotQueueFullShedsNewest(t *testing.T) {
	o := newSteppedOrigin(t)
	h, rt := queueHarness(t, o, "      max_connections: 1\n      max_queue: 2\n      queue_timeout: 0\n")
	results := make(chan queueResult, 3)
	h.sendQueued(context.Background(), "0", results)
	if n := <-o.arrived; n != "0" {
		t.Fatalf("first at the origin: %s", n)
	}
	h.sendQueued(context.Background(), "1", results)
	waitFor(t, "request 1 to queue", func() bool { return rt.slots.queued() == 1 })
	h.sendQueued(context.Background(), "2", results)
	waitFor(t, "request 2 to queue", func() bool { return rt.slots.queued() == 2 })
	if got := metricSum(t, h, "backline_gateway_queue_length", "", ""); got != 2 {
		t.Fatalf("queue gauge = %v", got)
	}

	resp, body := h.do(http.MethodGet, "/x?n=3", nil, nil)
	expectOverloaded(t, resp, body)
	if got := metricSum(t, h, "backline_gateway_queue_shed_total", "reason", "full"); got != 1 {
		t.Fatalf("shed{reason=full} = %v", got)
	}
	if got := metricSum(t, h, "backline_gateway_errors_total", "type", "backend_overloaded"); got != 1 {
		t.Fatalf("errors{type=backend_overloaded} = %v", got)
	}
	if got := metricSum(t, h, "backline_gateway_requests_total", "code", "503"); got != 1 {
		t.Fatalf("requests{code=503} = %v", got)
	}
	logs := h.logs.String()
	if !strings.Contains(logs, `"error_type":"backend_overloaded"`) || !strings.Contains(logs, errQueueFull.Error()) {
		t.Fatalf("shed not logged with its cause:\n%s", logs)
	}

	// First come, first served: 1, then 2.
	for _, want := range []string{"1", "2"} {
		if n := o.next(t); n != want {
			t.Fatalf("origin got %s, want %s", n, want)
		}
	}
	o.step <- struct{}{}
	for range 3 {
		if r := <-results; r.err != nil || r.status != 200 {
			t.Fatalf("request %s: %d %v", r.n, r.status, r.err)
		}
	}
	waitFor(t, "the slot to be free", func() bool { return rt.slots.slotsInUse() == 0 })
}

// A wait longer than queue_timeout ends with backend_overloaded, and the
// slot count is unharmed: the next request gets the slot.
func TestSlotQueueTimeoutSheds(t *testing.T) {
	o := newSteppedOrigin(t)
	// 1ms: the wait always outlasts it, since the slot is held until the
	// test lets request 0 go; nothing here measures time.
	h, rt := queueHarness(t, o, "      max_connections: 1\n      queue_timeout: 1ms\n")
	results := make(chan queueResult, 2)
	h.sendQueued(context.Background(), "0", results)
	<-o.arrived

	resp, body := h.do(http.MethodGet, "/x?n=1", nil, nil)
	expectOverloaded(t, resp, body)
	if got := metricSum(t, h, "backline_gateway_queue_shed_total", "reason", "timeout"); got != 1 {
		t.Fatalf("shed{reason=timeout} = %v", got)
	}
	if !strings.Contains(h.logs.String(), errQueueTimeout.Error()) {
		t.Fatalf("cause not logged:\n%s", h.logs)
	}
	if q := rt.slots.queued(); q != 0 {
		t.Fatalf("queued = %d after the timeout", q)
	}
	if got := metricSum(t, h, "backline_gateway_queue_length", "", ""); got != 0 {
		t.Fatalf("queue gauge = %v", got)
	}
	if n := rt.slots.slotsInUse(); n != 1 {
		t.Fatalf("slots in use = %d, want 1 (request 0's)", n)
	}

	o.step <- struct{}{}
	if r := <-results; r.status != 200 {
		t.Fatalf("request 0: %d %v", r.status, r.err)
	}
	waitFor(t, "the slot to be free", func() bool { return rt.slots.slotsInUse() == 0 && rt.inFlight.Load() == 0 })
	h.sendQueued(context.Background(), "2", results)
	if n := <-o.arrived; n != "2" {
		t.Fatalf("origin got %s", n)
	}
	o.step <- struct{}{}
	if r := <-results; r.status != 200 {
		t.Fatalf("request 2: %d %v", r.status, r.err)
	}
	waitFor(t, "the slot to be free", func() bool { return rt.slots.slotsInUse() == 0 })
}

// A client that leaves the queue frees its place: with max_queue 1 the
// next request queues instead of being shed, and the one that left never
// reaches the origin.
func TestSlotQueueLeaverFreesPlace(t *testing.T) {
	o := newSteppedOrigin(t)
	h, rt := queueHarness(t, o, "      max_connections: 1\n      max_queue: 1\n")
	results := make(chan queueResult, 3)
	h.sendQueued(context.Background(), "0", results)
	<-o.arrived

	ctx, cancel := context.WithCancel(context.Background())
	left := make(chan queueResult, 1)
	h.sendQueued(ctx, "1", left)
	waitFor(t, "request 1 to queue", func() bool { return rt.slots.queued() == 1 })
	cancel()
	if r := <-left; r.err == nil {
		t.Fatalf("the request that left got %d", r.status)
	}
	waitFor(t, "the queue to empty", func() bool { return rt.slots.queued() == 0 })

	h.sendQueued(context.Background(), "2", results)
	waitFor(t, "request 2 to queue", func() bool { return rt.slots.queued() == 1 })
	if n := o.next(t); n != "2" {
		t.Fatalf("origin got %s, want 2", n)
	}
	o.step <- struct{}{}
	for range 2 {
		if r := <-results; r.status != 200 {
			t.Fatalf("request %s: %d %v", r.n, r.status, r.err)
		}
	}
	if got := metricSum(t, h, "backline_gateway_queue_shed_total", "", ""); got != 0 {
		t.Fatalf("shed = %v, want 0", got)
	}
	waitFor(t, "the slot to be free", func() bool { return rt.slots.slotsInUse() == 0 })
}

// Other gateway errors carry no Retry-After.
func TestRetryAfterOnlyWhenOverloaded(t *testing.T) {
	h := newHarness(t, gatewayYAML("http://127.0.0.1:1", "", "    - path: /x\n      proxy:\n        backend: api\n"))
	resp, body := h.do(http.MethodGet, "/x", nil, nil)
	expectError(t, resp, body, http.StatusBadGateway, "backend")
	if got := resp.Header.Get("Retry-After"); got != "" {
		t.Fatalf("Retry-After = %q on a backend error", got)
	}
}

func TestSlotQueueUnit(t *testing.T) {
	t.Run("full", func(t *testing.T) {
		var lengths []int
		var mu sync.Mutex
		q := newSlotQueue(1, 1, 0, func(n int) { mu.Lock(); lengths = append(lengths, n); mu.Unlock() })
		if err := q.acquire(context.Background()); err != nil {
			t.Fatal(err)
		}
		got := make(chan error, 1)
		go func() { got <- q.acquire(context.Background()) }()
		waitFor(t, "a waiter", func() bool { return q.queued() == 1 })
		if err := q.acquire(context.Background()); !errors.Is(err, errQueueFull) {
			t.Fatalf("third acquire: %v, want errQueueFull", err)
		}
		q.release() // to the waiter
		if err := <-got; err != nil {
			t.Fatal(err)
		}
		q.release()
		if q.slotsInUse() != 0 || q.queued() != 0 {
			t.Fatalf("in use %d, queued %d", q.slotsInUse(), q.queued())
		}
		mu.Lock()
		defer mu.Unlock()
		if len(lengths) != 2 || lengths[0] != 1 || lengths[1] != 0 {
			t.Fatalf("queue lengths reported %v, want [1 0] (a refused request never counts)", lengths)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		q := newSlotQueue(1, 0, time.Nanosecond, nil)
		if err := q.acquire(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := q.acquire(context.Background()); !errors.Is(err, errQueueTimeout) {
			t.Fatalf("second acquire: %v, want errQueueTimeout", err)
		}
		if q.slotsInUse() != 1 || q.queued() != 0 {
			t.Fatalf("in use %d, queued %d", q.slotsInUse(), q.queued())
		}
		q.release()
		if q.slotsInUse() != 0 {
			t.Fatalf("in use %d after release", q.slotsInUse())
		}
	})
	t.Run("no cap", func(t *testing.T) {
		q := newSlotQueue(1, 0, 0, nil)
		if err := q.acquire(context.Background()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				if err := q.acquire(ctx); !errors.Is(err, context.Canceled) {
					t.Errorf("acquire: %v, want context.Canceled", err)
				}
			})
		}
		waitFor(t, "50 waiters", func() bool { return q.queued() == 50 })
		cancel()
		wg.Wait()
		q.release()
		if q.slotsInUse() != 0 || q.queued() != 0 {
			t.Fatalf("in use %d, queued %d", q.slotsInUse(), q.queued())
		}
	})
}
