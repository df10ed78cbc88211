package integration

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/gateway"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
	"github.com/backline/backline/internal/testfixture"
)

// TestGatewayNginxOrigin runs the gateway in front of the fixture's nginx,
// with beta_health checks on the real health engine.
//
// The checks run once, when the engine starts (interval 1h): beta_health's
// timeout is clamped to its interval, and with 100ms a loaded machine's
// slow probe of the healthy nginx marked it down mid-test.
func TestGatewayNginxOrigin(t *testing.T) {
	f := testfixture.Load(t)
	yml := fmt.Sprintf(`definitions:
  backends:
    nginx:
      origin: http://127.0.0.1:%[1]d
      basic_auth: %[3]s:%[4]s
      beta_health:
        path: /public
        interval: 1h
        expected_text: ok
    nginx_noauth:
      origin: http://127.0.0.1:%[1]d
    nginx_down:
      origin: http://127.0.0.1:%[1]d
      beta_health:
        path: /fail
        interval: 1h
        failure_threshold: 1
    nginx_tls:
      origin: https://localhost:%[2]d
      basic_auth: %[3]s:%[4]s
      tls:
        server_ca_certificate_file: %[5]s
gateway:
  address: 127.0.0.1:18998
  endpoints:
    - path: /ok
      proxy:
        backend: nginx
    - path: /noauth
      proxy:
        backend: nginx_noauth
    - path: /pub/**
      proxy:
        backend:
          label: nginx_noauth
          path: /public
    - path: /gone
      proxy:
        backend:
          label: nginx
          path: /fail
    - path: /down
      proxy:
        backend: nginx_down
    - path: /tls
      proxy:
        backend: nginx_tls
`, f.Port("NGINX_HTTP"), f.Port("NGINX_HTTPS"), f.User, f.Password, f.CAFile)
	gw, engine, logs := startCheckedGateway(t, yml, nil)

	waitForVerdicts(t, engine, 2)
	srv := httptest.NewServer(gw.Handler())
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	get := func(path string, hdr ...string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	if resp, body := get("/ok"); resp.StatusCode != 200 || body != "ok\n" {
		t.Fatalf("/ok: %d %q", resp.StatusCode, body)
	}
	// The client's own credentials are not forwarded by proxy: nginx asks for them.
	auth := "Basic " + basicToken(f.User, f.Password)
	if resp, _ := get("/noauth", "Authorization", auth); resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("/noauth: %d", resp.StatusCode)
	}
	if resp, body := get("/pub/anything"); resp.StatusCode != 200 || body != "ok\n" {
		t.Fatalf("/pub: %d %q", resp.StatusCode, body)
	}
	// An origin's own 503 passes through unchanged.
	if resp, _ := get("/gone"); resp.StatusCode != 503 || resp.Header.Get(gateway.ErrorHeader) != "" {
		t.Fatalf("/gone: %d", resp.StatusCode)
	}
	resp, body := get("/down")
	if resp.StatusCode != 502 || resp.Header.Get(gateway.ErrorHeader) != "backend_unhealthy" || !strings.Contains(body, `"backend_unhealthy"`) {
		t.Fatalf("/down: %d %q", resp.StatusCode, body)
	}
	if resp, body := get("/tls"); resp.StatusCode != 200 || body != "ok\n" {
		t.Fatalf("/tls: %d %q logs %s", resp.StatusCode, body, logs.String())
	}
	if strings.Contains(logs.String(), f.Password) {
		t.Fatalf("password in gateway logs")
	}
}

// waitPeerClosed waits (bounded) until no TCP connection of this test
// process to 127.0.0.1:port is still ESTABLISHED: the server closed the
// idle ones (ours are then in CLOSE_WAIT). It reads /proc/net/tcp and
// counts only sockets among /proc/self/fd, so other processes' connections
// to the same server (go test runs packages in parallel) do not count.
// Where those cannot be read it sleeps a second instead.
func waitPeerClosed(t *testing.T, port int) {
	t.Helper()
	// rem_address is 0100007F:<port in hex>; st 01 is ESTABLISHED.
	remote := fmt.Sprintf("0100007F:%04X", port)
	start := time.Now()
	deadline := start.Add(logWaitLimit)
	for {
		table, err := os.ReadFile("/proc/net/tcp")
		fds, ferr := os.ReadDir("/proc/self/fd")
		if err != nil || ferr != nil {
			time.Sleep(time.Second)
			return
		}
		ours := map[string]bool{}
		for _, fd := range fds {
			if target, err := os.Readlink("/proc/self/fd/" + fd.Name()); err == nil {
				if inode, ok := strings.CutPrefix(target, "socket:["); ok {
					ours[strings.TrimSuffix(inode, "]")] = true
				}
			}
		}
		open := 0
		for _, line := range strings.Split(string(table), "\n")[1:] {
			if f := strings.Fields(line); len(f) > 9 && f[2] == remote && f[3] == "01" && ours[f[9]] {
				open++
			}
		}
		if open == 0 {
			t.Logf("no connection to port %d open after %v", port, time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections to port %d still open after %s", open, port, logWaitLimit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startCheckedGateway builds the gateway of yml with its health engine
// running on the real prober, logging into the returned buffer; both stop
// at the test's cleanup (the engine first).
func startCheckedGateway(t *testing.T, yml string, reg prometheus.Registerer) (*gateway.Gateway, *health.Engine, *lockedBuffer) {
	t.Helper()
	cfg, err := config.Parse([]byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	gw, err := gateway.New(gateway.Options{Config: cfg, Logger: newTextLogger(logs), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gw.Close)
	engine, err := health.New(gw.HealthGroups(), &probe.Prober{}, health.Options{})
	if err != nil {
		t.Fatal(err)
	}
	gw.SetHealth(engine)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { engine.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	return gw, engine, logs
}

// waitForVerdicts waits until n gateway targets have been checked once.
func waitForVerdicts(t *testing.T, engine *health.Engine, n int) {
	t.Helper()
	for i := 0; i < 1000; i++ {
		checked := 0
		for _, b := range engine.Snapshot().Backends {
			if !b.Deep.LastCheck.IsZero() {
				checked++
			}
		}
		if checked >= n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("health engine gave no verdicts: %+v", engine.Snapshot())
}

func newTextLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func basicToken(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
}

// TestGatewayNginxEndsKeepAlive has nginx end keep-alive connections on its
// own, after 300 ms idle and after two requests: the gateway's client must
// notice before it sends on them, so no request fails and no POST is lost.
func TestGatewayNginxEndsKeepAlive(t *testing.T) {
	f := testfixture.Load(t)
	cfg, err := config.Parse([]byte(fmt.Sprintf(`definitions:
  backends:
    nginx:
      origin: http://127.0.0.1:%d
gateway:
  address: 127.0.0.1:18997
  endpoints:
    - path: /idle
      proxy:
        backend:
          label: nginx
          path: /short-keepalive
    - path: /two
      proxy:
        backend:
          label: nginx
          path: /two-per-connection
`, f.Port("NGINX_HTTP"))))
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	gw, err := gateway.New(gateway.Options{Config: cfg, Logger: newTextLogger(logs)})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	srv := httptest.NewServer(gw.Handler())
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	send := func(method, path string) {
		t.Helper()
		var body io.Reader
		if method == http.MethodPost {
			body = strings.NewReader("payload")
		}
		req, _ := http.NewRequest(method, srv.URL+path, body)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "ok\n" {
			t.Fatalf("%s %s: %d %q\n%s", method, path, resp.StatusCode, b, logs.String())
		}
	}
	for _, method := range []string{http.MethodGet, http.MethodGet, http.MethodPost, http.MethodGet} {
		send(method, "/idle")
		// nginx closes the idle connection after 300 ms. Waiting for that
		// (not sleeping 600 ms) keeps the next request off the moment of
		// the close on a loaded machine: sent while nginx closes, a POST
		// fails for any client, which is no bug of the gateway's.
		waitPeerClosed(t, f.Port("NGINX_HTTP"))
	}
	for i := 0; i < 5; i++ {
		send(http.MethodGet, "/two")
		send(http.MethodPost, "/two")
	}
	if strings.Contains(logs.String(), "gateway request failed") {
		t.Fatalf("a request failed:\n%s", logs.String())
	}
}
