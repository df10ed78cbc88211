package health

import (
	"context"
	"log/slog"

	"github.com/backline/backline/internal/probe"
)

// logOutcome writes one line per gate transition (WARN when a gate goes
// down, INFO when it comes back) and, at DEBUG only, one line per probe that
// changed nothing: thousands of targets must not flood the log at INFO.
//
// Only names, addresses, phases, reasons and the probe's (already redacted)
// error text are logged; never the *probe.Target, which holds the password.
func logOutcome(ctx context.Context, logger *slog.Logger, s *targetState, out *outcome, res *probe.Result) {
	logCheckDrain(ctx, logger, s, out) // check_drain.go
	for _, c := range out.changes {
		level := slog.LevelInfo
		if !c.to {
			level = slog.LevelWarn
		}
		g := &s.connectGate
		if c.phase == probe.PhaseDeep {
			g = &s.deepGate
		}
		attrs := []slog.Attr{
			slog.String("group", s.group),
			slog.String("target", s.name),
			slog.String("protocol", s.target.Protocol),
			slog.String("address", s.target.Address()),
			slog.String("phase", string(c.phase)),
			slog.String("from", stateName(!c.to)),
			slog.String("to", stateName(c.to)),
			slog.Bool("backend_healthy", s.healthy),
			slog.Int("consecutive_failures", g.streakFailures),
			slog.Int("consecutive_successes", g.streakSuccesses),
		}
		if !c.to {
			attrs = append(attrs,
				slog.String("reason", string(out.reason)),
				slog.String("error", out.errText))
		}
		logger.LogAttrs(ctx, level, "backend health changed", attrs...)
	}
	if len(out.changes) > 0 || !logger.Enabled(ctx, slog.LevelDebug) {
		return
	}
	if out.ok {
		logger.LogAttrs(ctx, slog.LevelDebug, "probe succeeded",
			slog.String("group", s.group),
			slog.String("target", s.name),
			slog.String("phase", string(out.phase)),
			slog.Duration("duration", res.Duration))
		return
	}
	g := &s.connectGate
	if out.phase == probe.PhaseDeep {
		g = &s.deepGate
	}
	logger.LogAttrs(ctx, slog.LevelDebug, "probe failed",
		slog.String("group", s.group),
		slog.String("target", s.name),
		slog.String("phase", string(out.phase)),
		slog.String("reason", string(out.reason)),
		slog.String("error", out.errText),
		slog.Int("consecutive_failures", g.streakFailures),
		slog.Bool("gate_healthy", g.healthy))
}
