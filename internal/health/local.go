package health

import (
	"context"
	"log/slog"
	"time"

	"github.com/backline/backline/internal/probe"
)

// localErrorLogInterval spaces the ERROR lines about local failures of one
// group: when descriptors run out, every probe of a round fails at once, and
// thousands of identical lines would only make it worse.
const localErrorLogInterval = 10 * time.Second

// localErrorLog is a group loop's rate limiter; only its goroutine uses it.
type localErrorLog struct {
	last       time.Time
	suppressed int
}

// allow reports whether a line may be logged at now; when it may, the
// caller logs log.suppressed and then calls logged.
func (log *localErrorLog) allow(now time.Time) bool {
	if !log.last.IsZero() && now.Sub(log.last) < localErrorLogInterval {
		log.suppressed++
		return false
	}
	return true
}

// logged notes the line just written.
func (log *localErrorLog) logged(now time.Time) { log.last, log.suppressed = now, 0 }

// isLocalFailure tells whether a probe failed because this host could not
// open a socket (probe.ReasonLocal): nothing was learnt about the backend,
// so its gates, times and last error stay as they were (issue 9 item 6).
func isLocalFailure(res *probe.Result) bool {
	return !res.OK && failureReason(res) == probe.ReasonLocal
}

// noteLocalFailure counts a local failure and logs it at ERROR, at most once
// per localErrorLogInterval per group; the next line says how many it left
// out.
func (l *groupLoop) noteLocalFailure(ctx context.Context, s *targetState, phase probe.Phase, res *probe.Result, now time.Time) {
	errno := probe.LocalErrno(res.Err)
	if errno == "" {
		errno = "other"
	}
	if m := l.e.metrics; m != nil {
		m.localErrors.WithLabelValues(s.group, errno).Inc()
	}
	log := &l.localLog
	if !log.allow(now) {
		return
	}
	l.e.logger.LogAttrs(ctx, slog.LevelError, "health probe could not open a socket: this host is out of resources; backend state kept",
		slog.String("group", s.group),
		slog.String("target", s.name),
		slog.String("address", s.target.Address()),
		slog.String("phase", string(phase)),
		slog.String("errno", errno),
		slog.String("error", failureText(res)),
		slog.Int("suppressed_since_last", log.suppressed))
	log.logged(now)
}
