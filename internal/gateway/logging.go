package gateway

import (
	"log/slog"
	"time"
)

func levelFor(k errorKind) slog.Level {
	switch k {
	case kindRouteNotFound, kindMethodNotAllowd, kindClientGone, kindThrottle, kindTooLarge, kindClientRequest, kindOpenAPIRequest:
		return slog.LevelInfo
	case kindConfiguration:
		return slog.LevelError
	}
	return slog.LevelWarn
}

// logUpstream writes the per-backend-request line with custom_log_fields.
// Values come from templates the operator wrote, never from credentials
// backline adds itself (basic_auth is not a log field).
func (g *Gateway) logUpstream(reqID, endpoint string, bv *backendView, rd *requestData, status int, start time.Time) {
	attrs := []any{"request_id", reqID, "endpoint", endpoint, "backend", bv.rt.name,
		"status", status, "ttfb", time.Since(start)}
	level := slog.LevelDebug
	if len(bv.logFields) > 0 {
		level = slog.LevelInfo
		custom := make([]any, 0, len(bv.logFields))
		for _, nv := range bv.logFields {
			vals := evalAll(nv.values, rd)
			if len(vals) == 1 {
				custom = append(custom, slog.String(nv.name, vals[0]))
			} else {
				custom = append(custom, slog.Any(nv.name, vals))
			}
		}
		attrs = append(attrs, slog.Group("custom", custom...))
	}
	g.logger.Log(rd.req.Context(), level, "gateway backend request", attrs...)
}
