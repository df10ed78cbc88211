package lua

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Nauthilus counts every Redis call of a script; backline exports the count
// by outcome, so an operator sees a filter whose Redis calls fail (the
// script itself may ignore the error) on /metrics:
//
//	backline_lua_redis_commands_total{result="ok|nil|error|timeout"}
//
// A pipeline counts once.
type redisMetrics struct {
	ok, nilReply, failed, timeout prometheus.Counter
}

func newRedisMetrics(reg prometheus.Registerer) *redisMetrics {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "backline_lua_redis_commands_total",
		Help: "Redis calls of Lua scripts (nauthilus_redis) by result: ok, nil (not found), error, timeout (the run's deadline or cancellation).",
	}, []string{"result"})
	if reg != nil {
		if err := reg.Register(vec); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
					vec = existing
				}
			}
		}
	}
	return &redisMetrics{
		ok: vec.WithLabelValues("ok"), nilReply: vec.WithLabelValues("nil"),
		failed: vec.WithLabelValues("error"), timeout: vec.WithLabelValues("timeout"),
	}
}

// count records one call's outcome.
func (m *redisMetrics) count(err error) {
	switch {
	case m == nil:
	case err == nil:
		m.ok.Inc()
	case errors.Is(err, redis.Nil):
		m.nilReply.Inc()
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		m.timeout.Inc()
	default:
		m.failed.Inc()
	}
}
