package gateway

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/state"
)

// SharedThrottles counts the throttles of every gateway backend in one
// shared state.RateCounter (storage.redis), so a limit of N per period is
// N across all instances. It outlives configuration reloads.
//
// When the shared counter fails, throttles count in their local memory
// (each instance then allows the configured limit on its own: limits stay,
// they are not shared), the outage is logged once and
// backline_gateway_throttle_shared goes to 0. The shared counter is not
// asked again for sharedRetry, so a dead Redis costs one timeout per
// second, not one per request.
type SharedThrottles struct {
	counter state.RateCounter
	logger  *slog.Logger
	now     func() time.Time

	retryAt atomic.Int64 // unix nanoseconds; while now is before it, count locally
	mu      sync.Mutex   // orders the up/down log lines
	down    atomic.Bool

	up    prometheus.Gauge
	local prometheus.Counter
}

// sharedRetry is how long throttles count locally after the shared counter
// failed before they ask it again.
const sharedRetry = time.Second

// NewSharedThrottles returns shared throttles on counter; reg may be nil.
func NewSharedThrottles(counter state.RateCounter, logger *slog.Logger, reg prometheus.Registerer) (*SharedThrottles, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &SharedThrottles{counter: counter, logger: logger, now: time.Now,
		up: prometheus.NewGauge(prometheus.GaugeOpts{Name: "backline_gateway_throttle_shared",
			Help: "1 while gateway throttles count on storage.redis, 0 while this instance counts locally."}),
		local: prometheus.NewCounter(prometheus.CounterOpts{Name: "backline_gateway_throttle_local_total",
			Help: "Throttled gateway requests counted locally because the shared counter (Redis) failed."}),
	}
	s.up.Set(1)
	if reg != nil {
		for _, c := range []prometheus.Collector{s.up, s.local} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

// take asks the shared counter; ok is false when the caller must count
// locally (the counter failed now or recently, or ctx ended).
func (s *SharedThrottles) take(ctx context.Context, key string, rules []state.RateRule, now time.Time) (state.RateDecision, bool) {
	if now.UnixNano() < s.retryAt.Load() {
		s.local.Inc()
		return state.RateDecision{}, false
	}
	d, err := s.counter.Take(ctx, key, rules, now)
	if err == nil {
		s.setDown(false, nil)
		return d, true
	}
	if ctx.Err() != nil {
		return state.RateDecision{}, false // the client left; says nothing about Redis
	}
	s.retryAt.Store(now.Add(sharedRetry).UnixNano())
	s.local.Inc()
	s.setDown(true, err)
	return state.RateDecision{}, false
}

func (s *SharedThrottles) setDown(down bool, err error) {
	if s.down.Load() == down {
		return // the hot path: no lock
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down.Load() == down {
		return
	}
	s.down.Store(down)
	if down {
		s.up.Set(0)
		s.logger.Warn("shared throttle counter unreachable: gateway throttles count locally (per instance) until it answers", "error", err)
	} else {
		s.up.Set(1)
		s.logger.Info("shared throttle counter answers again: gateway throttles count across instances")
	}
}
