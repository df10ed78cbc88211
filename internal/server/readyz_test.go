package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
)

type readySource struct {
	fixedSource
	ready bool
}

func (r readySource) Ready() bool { return r.ready }

func readyStatus(t *testing.T, h http.Handler) (int, string) {
	t.Helper()
	got := do(t, h, "GET", "/readyz", nil)
	var body readyzBody
	if err := json.Unmarshal([]byte(got.body), &body); err != nil {
		t.Fatalf("%v: %s", err, got.body)
	}
	return got.status, body.Status
}

func TestReadyz(t *testing.T) {
	auth := config.APIAuth{Username: "u", Password: "p-secret-123"}
	src := readySource{fixedSource: fixedSource{&health.Snapshot{}}}
	s := New(Options{Snapshot: src, Logger: slog.New(slog.DiscardHandler), APIAuth: auth})
	// Public like /healthz: no credentials.
	if code, st := readyStatus(t, s.Handler()); code != 503 || st != "starting" {
		t.Errorf("before the first round: %d %s", code, st)
	}
	src.ready = true
	s = New(Options{Snapshot: src, Logger: slog.New(slog.DiscardHandler), APIAuth: auth})
	if code, st := readyStatus(t, s.Handler()); code != 200 || st != "ready" {
		t.Errorf("ready: %d %s", code, st)
	}
	s.stopping.Store(true)
	if code, st := readyStatus(t, s.Handler()); code != 503 || st != "stopping" {
		t.Errorf("stopping: %d %s", code, st)
	}
	// Without Ready(): a finished round's time decides (an admin change
	// before the first round publishes a snapshot too, without one).
	s = New(Options{Snapshot: fixedSource{&health.Snapshot{Round: 1}}, Logger: slog.New(slog.DiscardHandler)})
	if code, _ := readyStatus(t, s.Handler()); code != 503 {
		t.Errorf("round 1 without a time: %d", code)
	}
	s = New(Options{Snapshot: fixedSource{&health.Snapshot{Round: 1, Taken: time.Now()}}, Logger: slog.New(slog.DiscardHandler)})
	if code, _ := readyStatus(t, s.Handler()); code != 200 {
		t.Errorf("round 1: %d", code)
	}
}

// TestShutdownDelayKeepsServing: after ctx ends, the listener stays open
// with /readyz at 503 "stopping" until the delay ends.
func TestShutdownDelayKeepsServing(t *testing.T) {
	src := readySource{fixedSource: fixedSource{&health.Snapshot{Round: 1}}, ready: true}
	s := New(Options{Snapshot: src, Logger: slog.New(slog.DiscardHandler), ShutdownDelay: time.Minute})
	s.skipDelay = make(chan struct{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ServeListener(ctx, ln) }()
	url := "http://" + ln.Addr().String() + "/readyz"
	get := func() (int, error) {
		resp, err := http.Get(url)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	for {
		if code, err := get(); err == nil && code == 200 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	for !s.stopping.Load() {
		time.Sleep(time.Millisecond)
	}
	if code, err := get(); err != nil || code != 503 {
		t.Fatalf("during the delay: %d %v (the listener must stay open)", code, err)
	}
	close(s.skipDelay)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := get(); err == nil {
		t.Error("listener still open after shutdown")
	}
}
