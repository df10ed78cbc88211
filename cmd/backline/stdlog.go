package main

import (
	"log"
	"log/slog"
	"strings"

	"github.com/backline/backline/internal/redact"
)

// routeStdLog sends what libraries write with the standard log package to
// logger, through the header redaction, instead of to stderr as written:
// net/http's Transport (Lua's glua_http, the gateway's proxy and HTTP/2
// origins) logs every byte a server sends on an idle connection there,
// Set-Cookie values and body included. It returns the undo.
func routeStdLog(logger *slog.Logger) func() {
	out, flags, prefix := log.Writer(), log.Flags(), log.Prefix()
	log.SetFlags(0)
	log.SetPrefix("")
	log.SetOutput(stdLogWriter{logger})
	return func() {
		log.SetOutput(out)
		log.SetFlags(flags)
		log.SetPrefix(prefix)
	}
}

type stdLogWriter struct{ logger *slog.Logger }

func (w stdLogWriter) Write(p []byte) (int, error) {
	w.logger.Warn("library message", "text", redact.ErrorText(strings.TrimSuffix(string(p), "\n")))
	return len(p), nil
}
