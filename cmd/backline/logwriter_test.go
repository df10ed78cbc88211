package main

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

type lockedBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestLogWriterKeepsOrderAndFlushes: lines arrive complete and in order,
// by the timer, and whatever waits is written on Close.
func TestLogWriterKeepsOrderAndFlushes(t *testing.T) {
	var out lockedBuffer
	lw := newLogWriter(&out)
	line := []byte("first\n")
	lw.Write(line)
	copy(line, "XXXXX\n") // slog reuses its buffer: the writer must have copied
	deadline := time.Now().Add(5 * time.Second)
	for out.String() != "first\n" {
		if time.Now().After(deadline) {
			t.Fatalf("timer never flushed: %q", out.String())
		}
		time.Sleep(time.Millisecond)
	}
	var want strings.Builder
	for i := range 1000 {
		fmt.Fprintf(lw, "line %d\n", i)
		fmt.Fprintf(&want, "line %d\n", i)
	}
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "first\n"+want.String() {
		t.Fatalf("lines lost or reordered: %d bytes, want %d", len(got), len("first\n")+want.Len())
	}
	fmt.Fprint(lw, "after close\n")
	if !strings.HasSuffix(out.String(), "after close\n") {
		t.Error("a write after Close was not passed through")
	}
}

// TestLogWriterFlushesAtLimit: a burst larger than the buffer limit is
// written without waiting for the timer.
func TestLogWriterFlushesAtLimit(t *testing.T) {
	var out lockedBuffer
	lw := newLogWriter(&out)
	defer lw.Close()
	big := bytes.Repeat([]byte("x"), logBufferLimit)
	lw.Write(big)
	if got := len(out.String()); got != logBufferLimit {
		t.Fatalf("%d bytes written at once, want %d", got, logBufferLimit)
	}
}
