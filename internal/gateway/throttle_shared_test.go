package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"github.com/backline/backline/internal/state"
	tu "github.com/backline/backline/internal/testutil"
)

// sharedPair is two gateways (two instances) whose throttles share one
// miniredis.
type sharedPair struct {
	m      *miniredis.Miniredis
	a, b   *harness
	sa, sb *SharedThrottles
	logs   *tu.LogBuffer
}

func newSharedPair(t *testing.T, throttleYAML string) *sharedPair {
	t.Helper()
	m := miniredis.RunT(t)
	m.SetTime(time.Unix(1_700_000_000, 0))
	o := newEcho(t)
	yml := gatewayYAML(o.URL, throttleYAML, "    - path: /x\n      proxy:\n        backend: api\n")
	p := &sharedPair{m: m, logs: &tu.LogBuffer{}}
	open := func() (*harness, *SharedThrottles) {
		c := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1, DialTimeout: time.Second})
		t.Cleanup(func() { c.Close() })
		s, err := NewSharedThrottles(state.NewRedisRateCounter(c, "backline:"),
			slog.New(slog.NewTextHandler(p.logs, nil)), prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		return newHarness(t, yml, func(o *Options) { o.Throttles = s }), s
	}
	p.a, p.sa = open()
	p.b, p.sb = open()
	return p
}

// statuses sends n requests alternating between the two instances.
func (p *sharedPair) statuses(n int) string {
	var out []string
	for i := range n {
		h := p.a
		if i%2 == 1 {
			h = p.b
		}
		resp, _ := h.do(http.MethodGet, "/x", nil, nil)
		out = append(out, fmt.Sprint(resp.StatusCode))
	}
	return strings.Join(out, " ")
}

func TestSharedThrottleLimitIsTotal(t *testing.T) {
	for _, window := range []string{"fixed", "sliding"} {
		t.Run(window, func(t *testing.T) {
			p := newSharedPair(t, fmt.Sprintf("      throttle:\n        period: 1m\n        per_period: 3\n        period_window: %s\n        mode: block\n", window))
			if got := p.statuses(6); got != "200 200 200 429 429 429" {
				t.Fatalf("statuses %s", got)
			}
			// Redis's clock moves 40s: the fixed window still runs; the
			// sliding one too (its oldest start is 40s old).
			p.m.SetTime(time.Unix(1_700_000_040, 0))
			if got := p.statuses(1); got != "429" {
				t.Fatalf("after 40s: %s", got)
			}
			p.m.SetTime(time.Unix(1_700_000_060, 0))
			if got := p.statuses(4); got != "200 200 200 429" {
				t.Fatalf("after a period: %s", got)
			}
		})
	}
}

// Wait mode: the queue is local, the slots are shared. A start taken on one
// instance makes a request on the other queue.
func TestSharedThrottleWaitModeQueuesLocally(t *testing.T) {
	p := newSharedPair(t, "      throttle:\n        period: 1h\n        per_period: 1\n")
	if got := p.statuses(1); got != "200" {
		t.Fatalf("first on a: %s", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.b.srv.URL+"/x", nil)
		if resp, err := p.b.client.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	rtB, rtA := p.b.gw.backends["api"], p.a.gw.backends["api"]
	waitFor(t, "b's request to queue", func() bool { return rtB.throttleQueued.Load() == 1 })
	if rtA.throttleQueued.Load() != 0 {
		t.Fatal("a's queue is not empty: queues must be local")
	}
	cancel()
	<-done
	waitFor(t, "b's queue to empty", func() bool { return rtB.throttleQueued.Load() == 0 })
}

// Redis down: each instance keeps limiting on its own (not unlimited), says
// so once, and counts across instances again once Redis answers.
func TestSharedThrottleRedisDownFallsBackToLocal(t *testing.T) {
	p := newSharedPair(t, "      throttle:\n        period: 1h\n        per_period: 2\n        mode: block\n")
	if got := p.statuses(2); got != "200 200" {
		t.Fatalf("shared: %s", got)
	}
	p.m.Close()
	// Local counters start empty: each instance allows 2 on its own.
	if got := p.statuses(6); got != "200 200 200 200 429 429" {
		t.Fatalf("Redis down: %s", got)
	}
	if n := strings.Count(p.logs.String(), "shared throttle counter unreachable"); n != 2 {
		t.Fatalf("%d outage log lines for two instances, want one each:\n%s", n, p.logs)
	}
	if metricValue(p.sa.up) != 0 || metricValue(p.sa.local) < 3 {
		t.Fatalf("metrics: up %v local %v", metricValue(p.sa.up), metricValue(p.sa.local))
	}
	if err := p.m.Restart(); err != nil {
		t.Fatal(err)
	}
	// Redis kept its count of 2 and the local counts are full too: 429
	// either way, until both instances use Redis again (a pooled
	// connection broken by the restart may fail one more request).
	waitFor(t, "both instances to count on Redis again", func() bool {
		p.sa.retryAt.Store(0) // skip the one-second pause before asking again
		p.sb.retryAt.Store(0)
		if got := p.statuses(2); got != "429 429" {
			t.Fatalf("Redis back: %s", got)
		}
		return metricValue(p.sa.up) == 1 && metricValue(p.sb.up) == 1
	})
	if n := strings.Count(p.logs.String(), "answers again"); n != 2 {
		t.Fatalf("%d recovery log lines, want one per instance:\n%s", n, p.logs)
	}
}

// Instances whose clocks are an hour apart share one window: the counting
// happens on Redis's clock.
func TestSharedThrottleClockSkew(t *testing.T) {
	p := newSharedPair(t, "      throttle:\n        period: 1m\n        per_period: 2\n        period_window: fixed\n        mode: block\n")
	p.b.gw.backends["api"].throttle.now = func() time.Time { return time.Now().Add(time.Hour) }
	if got := p.statuses(3); got != "200 200 429" {
		t.Fatalf("statuses %s", got)
	}
}

// A long label stays a short Redis key (hashed), and two labels count apart.
func TestSharedThrottleLongLabel(t *testing.T) {
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer c.Close()
	s, err := NewSharedThrottles(state.NewRedisRateCounter(c, "backline:"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := newEcho(t)
	label := strings.Repeat("l", 256) // the longest label config allows
	yml := fmt.Sprintf("definitions:\n  backends:\n    %s:\n      origin: %s\n      throttle:\n        period: 1h\n        per_period: 1\n        mode: block\n    api:\n      origin: %s\n      throttle:\n        period: 1h\n        per_period: 1\n        mode: block\ngateway:\n  address: 127.0.0.1:18999\n  endpoints:\n    - path: /long\n      proxy:\n        backend: %s\n    - path: /x\n      proxy:\n        backend: api\n", label, o.URL, o.URL, label)
	h := newHarness(t, yml, func(o *Options) { o.Throttles = s })
	for _, path := range []string{"/long", "/x"} {
		if resp, _ := h.do(http.MethodGet, path, nil, nil); resp.StatusCode != 200 {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
	}
	if resp, _ := h.do(http.MethodGet, "/long", nil, nil); resp.StatusCode != 429 {
		t.Fatalf("second /long: %d", resp.StatusCode)
	}
	for _, k := range m.Keys() {
		if len(k) > 100 {
			t.Fatalf("key of %d bytes", len(k))
		}
	}
}

// metricValue reads a gauge's or a counter's value.
func metricValue(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	if m.Gauge != nil {
		return m.Gauge.GetValue()
	}
	return m.Counter.GetValue()
}
