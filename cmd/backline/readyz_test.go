package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
)

// TestShutdownDelayKeepsListenersOpen: after the stop signal (ctx), /readyz
// answers 503 "stopping" while the API and gateway listeners still accept,
// then the daemon stops.
func TestShutdownDelayKeepsListenersOpen(t *testing.T) {
	cfg, err := config.Parse([]byte("server:\n  shutdown_delay: 2s\ngateway:\n  address: 127.0.0.1:1\nauth:\n  services:\n    enabled: []\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Gateway.Address = "127.0.0.1:0"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- runDaemon(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil)), ln, nil) }()
	waitFor(t, "backline started", func() bool { return strings.Contains(logs.String(), `msg="backline started"`) })
	m := regexp.MustCompile(`msg="gateway listening" address=(\S+)`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no gateway address in:\n%s", logs.String())
	}
	api, gw := "http://"+ln.Addr().String(), "http://"+m[1]
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	status := func(url string) int {
		resp, err := client.Get(url)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := status(api + "/readyz"); s != 200 {
		t.Fatalf("/readyz before the stop: %d", s)
	}
	cancel()
	waitFor(t, "/readyz stopping", func() bool { return status(api+"/readyz") == 503 })
	if s := status(gw + "/"); s == 0 {
		t.Error("gateway listener closed during the shutdown delay")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s := status(api + "/readyz"); s != 0 {
		t.Errorf("API still answers after the stop: %d", s)
	}
	if s := status(gw + "/"); s != 0 {
		t.Errorf("gateway still answers after the stop: %d", s)
	}
}
