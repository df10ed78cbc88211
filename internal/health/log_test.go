package health

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/probe"
)

// lockedBuffer is a log sink safe for the engine's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func runLogged(t *testing.T, level slog.Level, script map[string][]bool, rounds int, targets ...*probe.Target) *lockedBuffer {
	t.Helper()
	var buf lockedBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: level}))
	g := mailGroup(targets...)
	g.ConnectInterval, g.DeepInterval = time.Millisecond, time.Millisecond
	g.FailureThreshold, g.RecoveryThreshold = 2, 1
	checker := &roundsChecker{next: &scriptChecker{script: script}}
	checker.left.Store(int64(rounds * len(targets)))
	h := startEngine(t, []Group{g}, checker, Options{Logger: logger, Registerer: prometheus.NewRegistry()})
	h.rounds(t, rounds)
	h.stop()
	return &buf
}

// roundsChecker answers the first left probes (one per target a round) and
// holds every later one until the stop cancels it, so it is never recorded
// or logged: with 1 ms intervals another round can start, and log, between
// the last awaited snapshot and the stop (a third debug line on a loaded
// machine in TestProbeLinesOnlyAtDebug).
type roundsChecker struct {
	next probe.Checker
	left atomic.Int64
}

func (c *roundsChecker) Check(ctx context.Context, t *probe.Target, phase probe.Phase, o probe.Options) probe.Result {
	if c.left.Add(-1) < 0 {
		<-ctx.Done()
		return probe.Result{Phase: phase, Err: ctx.Err()}
	}
	return c.next.Check(ctx, t, phase, o)
}

func TestTransitionLogLines(t *testing.T) {
	// fail, fail (down), fail, ok (up)
	buf := runLogged(t, slog.LevelInfo, map[string][]bool{"a/deep": {false, false, false, true}}, 4, mailTarget("a", 143, true))
	var got []string
	for _, r := range buf.records(t) {
		got = append(got, fmt.Sprintf("%s %s %s %s %s->%s %v %v", r["level"], r["msg"], r["target"], r["phase"], r["from"], r["to"], r["reason"], r["consecutive_failures"]))
	}
	want := []string{
		"WARN backend health changed a deep healthy->unhealthy connect_refused 2",
		"INFO backend health changed a deep unhealthy->healthy <nil> 0",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("log lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	first := buf.records(t)[0]
	if first["group"] != GroupMail || first["address"] != "127.0.0.1:143" || first["error"] != "connect to 127.0.0.1:143 refused" || first["backend_healthy"] != false {
		t.Fatalf("transition line lacks context: %v", first)
	}
}

func TestProbeLinesOnlyAtDebug(t *testing.T) {
	script := map[string][]bool{"a/connect": {false, true}}
	buf := runLogged(t, slog.LevelDebug, script, 2, mailTarget("a", 143, false))
	var got []string
	for _, r := range buf.records(t) {
		got = append(got, fmt.Sprintf("%s %s %v", r["level"], r["msg"], r["consecutive_failures"]))
	}
	want := "DEBUG probe failed 1\nDEBUG probe succeeded <nil>"
	if strings.Join(got, "\n") != want {
		t.Fatalf("debug lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), want)
	}
	quiet := runLogged(t, slog.LevelInfo, script, 2, mailTarget("a", 143, false))
	if s := quiet.String(); s != "" {
		t.Fatalf("INFO level logged probes that changed nothing:\n%s", s)
	}
}

func TestLogsNeverContainThePassword(t *testing.T) {
	script := map[string][]bool{"a/deep": {false, false, true, false, false}, "b/connect": {false, false, true}}
	buf := runLogged(t, slog.LevelDebug, script, 5, mailTarget("a", 143, true), mailTarget("b", 110, false))
	out := buf.String()
	if out == "" {
		t.Fatal("nothing logged")
	}
	for _, secret := range []string{testPassword, "Password"} {
		if strings.Contains(out, secret) {
			t.Fatalf("log contains %q:\n%s", secret, out)
		}
	}
}
