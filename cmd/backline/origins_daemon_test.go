package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/backline/backline/internal/config"
)

// flakyOrigin passes its health check (/health) and answers everything
// else with 500: only passive health can see it is broken.
type flakyOrigin struct {
	srv            *httptest.Server
	health, others atomic.Int64
}

func newFlakyOrigin(t *testing.T) *flakyOrigin {
	o := &flakyOrigin{}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			o.health.Add(1)
			return
		}
		o.others.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(o.srv.Close)
	return o
}

// The daemon end to end: an origin failing live traffic is ejected (reason
// passive in /api/v1/backends and /metrics), probed again at once, and a
// reload keeps the ejection.
func TestDaemonPassiveHealthAndReload(t *testing.T) {
	bad, good := newFlakyOrigin(t), textOrigin(t, "good")
	dir := t.TempDir()
	path := filepath.Join(dir, "backline.yml")
	gwLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gw := gwLn.Addr().String()
	gwLn.Close()
	write := func(retries int) {
		yml := fmt.Sprintf(`server:
  address: 127.0.0.1:9080
auth:
  services:
    enabled: []
definitions:
  backends:
    api:
      origins: [%s, %s]
      retries: %d
      beta_health:
        path: /health
        interval: 1h
      passive_health:
        consecutive_5xx: 2
        base_ejection_time: 1h
gateway:
  address: %s
  endpoints:
    - path: /**
      proxy:
        backend: api
`, bad.srv.URL, good.URL, retries, gw)
		if err := os.WriteFile(path+".new", []byte(yml), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".new", path); err != nil {
			t.Fatal(err)
		}
	}
	write(1)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	api := "http://" + ln.Addr().String()
	logs := &syncBuffer{}
	logger, level, err := newLoggerVar(logs, "info", "text")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runDaemonWith(ctx, daemonOptions{cfg: cfg, path: path, logger: logger, level: level, ln: ln})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("daemon: %v", err)
		}
	}()
	waitFor(t, "gateway listening", func() bool { return strings.Contains(logs.String(), `msg="gateway listening"`) })
	waitFor(t, "first health round", func() bool { return bad.health.Load() == 1 })

	var codes []int
	for range 6 {
		code, _ := httpGet(t, "http://"+gw+"/x")
		codes = append(codes, code)
	}
	if want := "[500 200 500 200 200 200]"; fmt.Sprint(codes) != want {
		t.Errorf("codes %v, want %s", codes, want)
	}
	if n := bad.others.Load(); n != 2 {
		t.Errorf("bad origin got %d requests, want 2", n)
	}
	// The ejection probed the origin at once (the interval is an hour).
	waitFor(t, "re-probe", func() bool { return bad.health.Load() == 2 })

	badName := "api@" + strings.TrimPrefix(bad.srv.URL, "http://")
	checkEjected := func(when string) {
		t.Helper()
		var body struct {
			Backends []struct {
				ID, Name, Reason string
				Eligible         bool
				EjectedUntil     string `json:"ejected_until"`
				Ejections        int
			}
		}
		if code := getJSON(t, api+"/api/v1/backends", &body); code != 200 {
			t.Fatalf("%s: /api/v1/backends %d", when, code)
		}
		found := false
		for _, b := range body.Backends {
			if b.Name != badName {
				continue
			}
			found = true
			if b.Eligible || b.Reason != "passive" || b.EjectedUntil == "" || b.Ejections != 1 || b.ID != "gateway:"+badName[:3]+"@"+bad.srv.URL {
				t.Errorf("%s: %+v", when, b)
			}
		}
		if !found {
			raw, _ := json.Marshal(body)
			t.Fatalf("%s: no %s in %s", when, badName, raw)
		}
		_, metrics := httpGet(t, api+"/metrics")
		series := fmt.Sprintf(`backline_backend_ejected{group="gateway:api",name=%q,reason="passive"} 1`, badName)
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + `$`).MatchString(metrics) {
			t.Errorf("%s: /metrics lacks %s", when, series)
		}
	}
	checkEjected("after the failures")

	write(2)
	resp, err := http.Post(api+"/api/v1/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("reload: %d", resp.StatusCode)
	}
	checkEjected("after a reload")
	for range 3 {
		if code, body := httpGet(t, "http://"+gw+"/y"); code != 200 || body != "good" {
			t.Errorf("after reload: %d %q", code, body)
		}
	}
	if n := bad.others.Load(); n != 2 {
		t.Errorf("bad origin got %d requests, want still 2", n)
	}
	if !strings.Contains(logs.String(), `msg="backend ejected by passive health"`) {
		t.Errorf("no ejection log line:\n%s", logs.String())
	}
}
