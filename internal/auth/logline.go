package auth

import (
	"context"
	"log/slog"
	"time"

	"github.com/backline/backline/internal/fastlog"
)

// The request log line is written once per request. slog's Logger looks up
// its caller for every record (a stack walk) although the daemon's handler
// never prints the source; handing the record to the handler directly skips
// that. Whether the level is enabled is asked first, so at log_level warn
// the line's attributes are not even built.

// requestLogEnabled reports whether the request log line would be written.
func (h *Handler) requestLogEnabled() bool {
	return h.log.Enabled(context.Background(), slog.LevelInfo)
}

// logRequestLine writes the line; the caller checked requestLogEnabled.
// The daemon's handler (fastlog) formats the line itself when it can,
// byte for byte as slog would; otherwise slog's handler writes it.
func (h *Handler) logRequestLine(msg string, attrs []slog.Attr) {
	now := time.Now()
	if lw, ok := h.log.Handler().(fastlog.LineWriter); ok && lw.WriteLine(now, slog.LevelInfo, msg, attrs) {
		return
	}
	r := slog.NewRecord(now, slog.LevelInfo, msg, 0)
	r.AddAttrs(attrs...)
	_ = h.log.Handler().Handle(context.Background(), r)
}
