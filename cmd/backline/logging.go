package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/backline/backline/internal/fastlog"
)

// newLogger builds the process logger from server.log_level and
// server.log_format (already validated by config; checked again because the
// demo and tests build configs too).
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	logger, _, err := newLoggerVar(w, level, format)
	return logger, err
}

// newLoggerVar is newLogger with the level as a variable a reload can set.
func newLoggerVar(w io.Writer, level, format string) (*slog.Logger, *slog.LevelVar, error) {
	lv, ok := parseLevel(level)
	if !ok {
		return nil, nil, fmt.Errorf("server.log_level: unknown level %q (debug, info, warn, error)", level)
	}
	v := &slog.LevelVar{}
	v.Set(lv)
	logger, err := newLoggerAt(w, v, format)
	return logger, v, err
}

// newLoggerAt is a logger of format whose level is v, which it may share
// with another (the gateway access log follows server.log_level).
func newLoggerAt(w io.Writer, v *slog.LevelVar, format string) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: v}
	switch strings.ToLower(format) {
	// fastlog's handlers are slog's, plus a cheap path for the request line.
	case "", "text":
		return slog.New(fastlog.Wrap(w, false, opts)), nil
	case "json":
		return slog.New(fastlog.Wrap(w, true, opts)), nil
	default:
		return nil, fmt.Errorf("server.log_format: unknown format %q (text, json)", format)
	}
}

func parseLevel(level string) (slog.Level, bool) {
	switch strings.ToLower(level) {
	case "debug":
		return slog.LevelDebug, true
	case "", "info":
		return slog.LevelInfo, true
	case "warn", "warning":
		return slog.LevelWarn, true
	case "error":
		return slog.LevelError, true
	}
	return slog.LevelInfo, false
}

// logLevel is the level of a validated server.log_level.
func logLevel(level string) slog.Level {
	lv, _ := parseLevel(level)
	return lv
}
