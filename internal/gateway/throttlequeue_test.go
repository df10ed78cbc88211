package gateway

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
)

// queued is the number of requests waiting for the throttle.
func (t *throttle) queued() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.waiters.Len()
}

// hourThrottle allows one start an hour in mode wait: after the first
// start every request has to queue for as long as any test runs.
func hourThrottle(maxQueue *int, queueTimeout *time.Duration, onQueue func(int)) *throttle {
	return newThrottle("api", config.RateLimits{{Period: time.Hour, PerPeriod: 1, PeriodWindow: config.WindowSliding,
		Mode: config.ModeWait, MaxQueue: maxQueue, QueueTimeout: queueTimeout}}, nil, onQueue)
}

func ptr[T any](v T) *T { return &v }

// A flood far beyond max_queue: exactly max_queue requests wait, every
// other one is refused at once (none waits to be refused), the reported
// length never passes the cap, and once the waiters leave nothing is left
// running (goleak checks at exit).
func TestThrottleQueueFloodSheds(t *testing.T) {
	const capacity, flood = 8, 500
	var peak atomic.Int64
	th := hourThrottle(ptr(capacity), nil, func(n int) {
		for {
			p := peak.Load()
			if int64(n) <= p || peak.CompareAndSwap(p, int64(n)) {
				return
			}
		}
	})
	if err := th.wait(context.Background()); err != nil {
		t.Fatalf("first start: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var refused, left atomic.Int64
	var wg sync.WaitGroup
	for range flood {
		wg.Go(func() {
			switch err := th.wait(ctx); {
			case errors.Is(err, errThrottleQueueFull):
				refused.Add(1)
			case errors.Is(err, context.Canceled):
				left.Add(1)
			default:
				t.Errorf("wait: %v", err)
			}
		})
	}
	waitFor(t, "the flood to be shed", func() bool { return refused.Load() == flood-capacity })
	if q := th.queued(); q != capacity {
		t.Fatalf("queued %d, want %d", q, capacity)
	}
	cancel()
	wg.Wait()
	if left.Load() != capacity || th.queued() != 0 {
		t.Fatalf("left %d queued %d, want %d and 0", left.Load(), th.queued(), capacity)
	}
	if p := peak.Load(); p != capacity {
		t.Fatalf("reported queue length peaked at %d, want %d", p, capacity)
	}
}

// max_queue 0 lifts the cap (as for the slot queue): a crowd beyond the
// default waits, and leaves when its clients do.
func TestThrottleQueueNoCap(t *testing.T) {
	const crowd = config.DefaultRateLimitMaxQueue + 50
	th := hourThrottle(ptr(0), nil, nil)
	if err := th.wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range crowd {
		wg.Go(func() {
			if err := th.wait(ctx); !errors.Is(err, context.Canceled) {
				t.Errorf("wait: %v, want context.Canceled", err)
			}
		})
	}
	waitFor(t, "the crowd to queue", func() bool { return th.queued() == crowd })
	cancel()
	wg.Wait()
	if q := th.queued(); q != 0 {
		t.Fatalf("queued %d", q)
	}
}

// Without max_queue written the default cap applies.
func TestThrottleQueueDefaultCap(t *testing.T) {
	th := hourThrottle(nil, nil, nil)
	if th.maxQueue != config.DefaultRateLimitMaxQueue || th.maxWait != 0 {
		t.Fatalf("max_queue %d queue_timeout %s", th.maxQueue, th.maxWait)
	}
}

// queue_timeout ends a wait with its own error, for a waiter at the head
// (waiting on the counter) and one behind it (waiting for its turn); the
// queue empties and the next request still queues.
func TestThrottleQueueTimeout(t *testing.T) {
	// 1ns: the wait always outlasts it, the throttle's next start being an
	// hour away; nothing here measures time.
	th := hourThrottle(nil, ptr(time.Nanosecond), nil)
	if err := th.wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if err := th.wait(context.Background()); !errors.Is(err, errThrottleQueueTimeout) {
				t.Errorf("wait: %v, want errThrottleQueueTimeout", err)
			}
		})
	}
	wg.Wait()
	if q := th.queued(); q != 0 {
		t.Fatalf("queued %d after the timeouts", q)
	}
	// The caller's own end is reported as such, not as queue_timeout.
	th.maxWait = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := th.wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled wait: %v", err)
	}
}

// Through the gateway: a shed is backend_overloaded 503 with Retry-After,
// counted as queue="throttle" and logged with its cause; the waiting
// request is in queue_waiting{queue="throttle"}.
func TestThrottleQueueFullAnswer(t *testing.T) {
	o := newEcho(t)
	h := newHarness(t, gatewayYAML(o.URL, "      throttle:\n        period: 1h\n        per_period: 1\n        max_queue: 1\n",
		"    - path: /x\n      proxy:\n        backend: api\n"))
	rt := h.gw.backends["api"]
	if resp, _ := h.do(http.MethodGet, "/x", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("first: %d", resp.StatusCode)
	}
	ctx, cancel := context.WithCancel(context.Background())
	waiting := make(chan queueResult, 1)
	h.sendQueued(ctx, "1", waiting)
	waitFor(t, "request 1 to queue", func() bool { return rt.throttle.queued() == 1 })
	if got := metricSum(t, h, "backline_gateway_queue_waiting", "queue", "throttle"); got != 1 {
		t.Fatalf("queue_waiting{queue=throttle} = %v", got)
	}

	resp, body := h.do(http.MethodGet, "/x?n=2", nil, nil)
	expectOverloaded(t, resp, body)
	if got := metricSum(t, h, "backline_gateway_queue_shed_total", "queue", "throttle"); got != 1 {
		t.Fatalf("shed{queue=throttle} = %v", got)
	}
	if got := metricSum(t, h, "backline_gateway_queue_shed_total", "reason", "full"); got != 1 {
		t.Fatalf("shed{reason=full} = %v", got)
	}
	if got := metricSum(t, h, "backline_gateway_errors_total", "type", "backend_overloaded"); got != 1 {
		t.Fatalf("errors{type=backend_overloaded} = %v", got)
	}
	if logs := h.logs.String(); !strings.Contains(logs, errThrottleQueueFull.Error()) {
		t.Fatalf("shed not logged with its cause:\n%s", logs)
	}
	cancel()
	if r := <-waiting; r.err == nil {
		t.Fatalf("the waiting request got %d", r.status)
	}
	waitFor(t, "the queue to empty", func() bool { return rt.throttle.queued() == 0 })
	if got := metricSum(t, h, "backline_gateway_queue_length", "", ""); got != 0 {
		t.Fatalf("queue_length = %v", got)
	}
}

func TestThrottleQueueTimeoutAnswer(t *testing.T) {
	o := newEcho(t)
	h := newHarness(t, gatewayYAML(o.URL, "      throttle:\n        period: 1h\n        per_period: 1\n        queue_timeout: 1ms\n",
		"    - path: /x\n      proxy:\n        backend: api\n"))
	if resp, _ := h.do(http.MethodGet, "/x", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("first: %d", resp.StatusCode)
	}
	resp, body := h.do(http.MethodGet, "/x", nil, nil)
	expectOverloaded(t, resp, body)
	if got := metricSum(t, h, "backline_gateway_queue_shed_total", "reason", "timeout"); got != 1 {
		t.Fatalf("shed{reason=timeout} = %v", got)
	}
	if got := metricSum(t, h, "backline_gateway_queue_shed_total", "queue", "throttle"); got != 1 {
		t.Fatalf("shed{queue=throttle} = %v", got)
	}
	if !strings.Contains(h.logs.String(), errThrottleQueueTimeout.Error()) {
		t.Fatalf("cause not logged:\n%s", h.logs)
	}
}

// A request waiting for the throttle and one waiting for a slot are told
// apart in queue_waiting; queue_length keeps counting both.
func TestQueueMetricSplit(t *testing.T) {
	o := newSteppedOrigin(t)
	h, rt := queueHarness(t, o, "      max_connections: 1\n      throttle:\n        period: 1h\n        per_period: 2\n")
	ctx, cancel := context.WithCancel(context.Background())
	results := make(chan queueResult, 3)
	h.sendQueued(ctx, "0", results) // the slot, held at the origin
	<-o.arrived
	h.sendQueued(ctx, "1", results) // the second start: waits for the slot
	waitFor(t, "request 1 to wait for the slot", func() bool { return rt.slots.queued() == 1 })
	h.sendQueued(ctx, "2", results) // no start left: waits for the throttle
	waitFor(t, "request 2 to wait for the throttle", func() bool { return rt.throttle.queued() == 1 })

	for _, c := range []struct {
		queue string
		want  float64
	}{{"slot", 1}, {"throttle", 1}} {
		if got := metricSum(t, h, "backline_gateway_queue_waiting", "queue", c.queue); got != c.want {
			t.Errorf("queue_waiting{queue=%s} = %v, want %v", c.queue, got, c.want)
		}
	}
	if got := metricSum(t, h, "backline_gateway_queue_length", "", ""); got != 2 {
		t.Errorf("queue_length = %v, want 2 (both queues)", got)
	}
	cancel()
	for range 3 {
		<-results
	}
	waitFor(t, "the queues to empty", func() bool {
		return rt.slots.queued() == 0 && rt.throttle.queued() == 0 && rt.slots.slotsInUse() == 0
	})
	if got := metricSum(t, h, "backline_gateway_queue_waiting", "", ""); got != 0 {
		t.Errorf("queue_waiting = %v after the clients left", got)
	}
}

// The queue is local with the shared counter too, so the cap holds whether
// the instances count on Redis or, Redis down, each on its own.
func TestSharedThrottleQueueCap(t *testing.T) {
	for _, redisDown := range []bool{false, true} {
		name := "shared"
		if redisDown {
			name = "redis down"
		}
		t.Run(name, func(t *testing.T) {
			p := newSharedPair(t, "      throttle:\n        period: 1h\n        per_period: 1\n        max_queue: 2\n")
			h := p.a
			if redisDown {
				p.m.Close()
				h = p.b // its local counter starts empty, as a's shared one did
			}
			if resp, _ := h.do(http.MethodGet, "/x", nil, nil); resp.StatusCode != 200 {
				t.Fatalf("first: %d", resp.StatusCode)
			}
			rt := p.b.gw.backends["api"]
			const flood = 40
			ctx, cancel := context.WithCancel(context.Background())
			results := make(chan queueResult, flood)
			for range flood {
				p.b.sendQueued(ctx, "", results)
			}
			var shed int
			for shed < flood-2 {
				r := <-results
				if r.status != http.StatusServiceUnavailable || r.header.Get(ErrorHeader) != "backend_overloaded" {
					t.Fatalf("a request beyond the cap: %d %v %s", r.status, r.err, r.body)
				}
				shed++
			}
			if q := rt.throttle.queued(); q != 2 {
				t.Fatalf("queued %d, want 2", q)
			}
			cancel()
			for range 2 {
				if r := <-results; r.err == nil {
					t.Fatalf("a waiting request got %d", r.status)
				}
			}
			waitFor(t, "the queue to empty", func() bool { return rt.throttle.queued() == 0 })
			if got := metricSum(t, p.b, "backline_gateway_queue_shed_total", "queue", "throttle"); got != flood-2 {
				t.Fatalf("shed{queue=throttle} = %v, want %d", got, flood-2)
			}
		})
	}
}
