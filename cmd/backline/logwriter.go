package main

import (
	"io"
	"sync"
	"time"
)

// logFlushDelay is how long a log line may wait for others to share its
// write. Under load the request log is a line per request; a write(2) per
// line cost more than formatting it (bench/authload -mode wrk).
const logFlushDelay = 5 * time.Millisecond

// logBufferLimit makes a writer flush at once rather than buffer more.
const logBufferLimit = 64 << 10

// logWriter gathers the daemon's log lines and writes them together, at
// most logFlushDelay after the first of them, at once when logBufferLimit
// bytes wait, and on Close. Lines keep their order. What is lost when the
// process dies without Close is at most logFlushDelay of lines; a Go panic
// still reaches stderr, which the runtime writes directly.
type logWriter struct {
	mu      sync.Mutex
	w       io.Writer
	buf     []byte
	timer   *time.Timer
	pending bool
	closed  bool
}

func newLogWriter(w io.Writer) *logWriter {
	lw := &logWriter{w: w}
	lw.timer = time.AfterFunc(time.Hour, lw.flushTimer)
	lw.timer.Stop()
	return lw
}

// Write keeps a copy of p (slog reuses its buffer) for the next flush.
func (lw *logWriter) Write(p []byte) (int, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if lw.closed {
		return lw.w.Write(p)
	}
	lw.buf = append(lw.buf, p...)
	if len(lw.buf) >= logBufferLimit {
		return len(p), lw.flushLocked()
	}
	if !lw.pending {
		lw.pending = true
		lw.timer.Reset(logFlushDelay)
	}
	return len(p), nil
}

func (lw *logWriter) flushTimer() {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	_ = lw.flushLocked()
}

func (lw *logWriter) flushLocked() error {
	lw.pending = false
	if len(lw.buf) == 0 {
		return nil
	}
	_, err := lw.w.Write(lw.buf)
	if cap(lw.buf) > 4*logBufferLimit {
		lw.buf = nil // a burst of long lines: do not keep its buffer
	} else {
		lw.buf = lw.buf[:0]
	}
	return err
}

// Flush writes what waits now (before a log file is reopened).
func (lw *logWriter) Flush() error {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.flushLocked()
}

// Close writes what waits; later writes go straight through.
func (lw *logWriter) Close() error {
	lw.timer.Stop()
	lw.mu.Lock()
	defer lw.mu.Unlock()
	lw.closed = true
	return lw.flushLocked()
}
