package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
)

// testDaemon is runDaemon started in-process on loopback.
type testDaemon struct {
	api, gateway string // host:port
	logs         *syncBuffer
}

// startDaemon runs cfg (its gateway moved to a free loopback port) until the
// test ends.
func startDaemon(t *testing.T, yaml string) *testDaemon {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Gateway.Address != "" {
		cfg.Gateway.Address = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &testDaemon{api: ln.Addr().String(), logs: &syncBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runDaemon(ctx, cfg, slog.New(slog.NewTextHandler(d.logs, nil)), ln, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("runDaemon: %v", err)
		}
		http.DefaultClient.CloseIdleConnections()
	})
	waitFor(t, "backline started", func() bool { return strings.Contains(d.logs.String(), `msg="backline started"`) })
	if cfg.Gateway.Address != "" {
		m := regexp.MustCompile(`msg="gateway listening" address=(\S+)`).FindStringSubmatch(d.logs.String())
		if m == nil {
			t.Fatalf("no gateway address in:\n%s", d.logs.String())
		}
		d.gateway = m[1]
	}
	return d
}

// httpGet's timeout only bounds a hung daemon: CI runs every package under
// -race at once on two cores, where an in-process /metrics took over 5 s.
func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// dialIdle opens n connections that never send a byte.
func dialIdle(t *testing.T, addr string, n int) {
	t.Helper()
	for i := range n {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("connection %d to %s: %v", i, addr, err)
		}
		t.Cleanup(func() { c.Close() })
	}
}

// Idle connections fill the gateway's cap; the API listener has its own and
// still answers /healthz, and the metrics show both caps.
func TestGatewayFloodLeavesHealthz(t *testing.T) {
	d := startDaemon(t, `
server:
  max_connections: 8
gateway:
  address: 127.0.0.1:1
  max_connections: 3
auth:
  services:
    enabled: []
`)
	dialIdle(t, d.gateway, 30)
	waitFor(t, "the gateway at its cap", func() bool {
		_, body := httpGet(t, "http://"+d.api+"/metrics")
		return strings.Contains(body, `backline_listener_open_connections{listener="gateway"} 3`)
	})
	if status, body := httpGet(t, "http://"+d.api+"/healthz"); status != 200 || !strings.Contains(body, `"status": "ok"`) {
		t.Errorf("/healthz: %d %s", status, body)
	}
	_, metrics := httpGet(t, "http://"+d.api+"/metrics")
	for _, want := range []string{
		`backline_listener_max_connections{listener="api"} 8`,
		`backline_listener_max_connections{listener="gateway"} 3`,
		`backline_listener_accept_errors_total{listener="gateway"} 0`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if !strings.Contains(d.logs.String(), `msg="connection limits"`) ||
		!strings.Contains(d.logs.String(), "server_max_connections=8 gateway_max_connections=3") {
		t.Errorf("no connection limits line in:\n%s", d.logs.String())
	}
}

func TestConnectionCapsDefaultFromFileLimit(t *testing.T) {
	cfg, err := config.Parse([]byte("server:\n  max_connections: 10\n"))
	if err != nil {
		t.Fatal(err)
	}
	caps := resolveConnectionCaps(cfg)
	if caps.api != 10 || caps.gateway < 16 || caps.gateway > 4096 {
		t.Errorf("caps %+v", caps)
	}
}

// Keep-alive clients idling on every slot of the API do not lock /healthz
// out until their idle timeout: the longest idle one is closed for it.
func TestIdleKeepAliveClientsDoNotLockOutTheAPI(t *testing.T) {
	d := startDaemon(t, "server:\n  max_connections: 2\nauth:\n  services:\n    enabled: []\n")
	for range 2 {
		keepAlive := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
		t.Cleanup(keepAlive.CloseIdleConnections)
		resp, err := keepAlive.Get("http://" + d.api + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if status, _ := httpGet(t, "http://"+d.api+"/healthz"); status != 200 {
		t.Fatalf("/healthz: %d", status)
	}
	_, metrics := httpGet(t, "http://"+d.api+"/metrics")
	if !strings.Contains(metrics, `backline_listener_idle_evictions_total{listener="api"}`) ||
		strings.Contains(metrics, `backline_listener_idle_evictions_total{listener="api"} 0`) {
		t.Errorf("no idle eviction counted:\n%s", metrics)
	}
	if !strings.Contains(d.logs.String(), `level=WARN msg="connection cap reached; closing idle keep-alive connections to make room" listener=api`) {
		t.Errorf("no warning about the cap in:\n%s", d.logs.String())
	}
}

// The gateway's listener is wrapped again by its framing check; idle
// keep-alive clients must still be found and closed to make room at the cap.
func TestIdleKeepAliveClientsDoNotLockOutTheGateway(t *testing.T) {
	d := startDaemon(t, `
gateway:
  address: 127.0.0.1:1
  max_connections: 2
auth:
  services:
    enabled: []
`)
	for range 2 {
		keepAlive := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
		t.Cleanup(keepAlive.CloseIdleConnections)
		resp, err := keepAlive.Get("http://" + d.gateway + "/nothing-here")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if status, _ := httpGet(t, "http://"+d.gateway+"/nothing-here"); status != http.StatusNotFound {
		t.Fatalf("third gateway client: status %d, want 404", status)
	}
	_, metrics := httpGet(t, "http://"+d.api+"/metrics")
	if strings.Contains(metrics, `backline_listener_idle_evictions_total{listener="gateway"} 0`) {
		t.Errorf("no idle eviction counted on the gateway:\n%s", metrics)
	}
}
