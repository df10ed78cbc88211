package auth

import (
	"context"
	"log/slog"
	"time"
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
func (h *Handler) logRequestLine(msg string, attrs []slog.Attr) {
	r := slog.NewRecord(time.Now(), slog.LevelInfo, msg, 0)
	r.AddAttrs(attrs...)
	_ = h.log.Handler().Handle(context.Background(), r)
}
