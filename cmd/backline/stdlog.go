package main

import (
	"io"
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

// oneOffCommand reports whether the command runs once and exits without a
// logger of its own: what libraries log during it (net/http's Transport
// under ctl, an http probe or a Lua script's glua_http) goes through
// cliLogger. serve and demo route it to their own logger.
func oneOffCommand(name string) bool {
	switch name {
	case "check", "probe", "lua", "ctl", "migrate":
		return true
	}
	return false
}

// cliLogger writes warnings and errors to stderr as text, as probe's own
// log lines are written.
func cliLogger(stderr io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type stdLogWriter struct{ logger *slog.Logger }

func (w stdLogWriter) Write(p []byte) (int, error) {
	w.logger.Warn("library message", "text", redact.ErrorText(strings.TrimSuffix(string(p), "\n")))
	return len(p), nil
}
