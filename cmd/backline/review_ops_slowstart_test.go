package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
)

// The daemon end to end: an origin a reload adds ramps up once picked,
// /api/v1/backends and the status page show the ramp, and a reload that
// is refused, by config validation or after the gateway was built (a
// passwd-file that goes bad between validation and the auth handler),
// leaves the ramp shown as it runs.
func TestDaemonShowsSlowStartAcrossReloads(t *testing.T) {
	a, b := textOrigin(t, "a"), textOrigin(t, "b")
	dir := t.TempDir()
	path := filepath.Join(dir, "backline.yml")
	filter := filepath.Join(dir, "filter.lua")
	gwLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gw := gwLn.Addr().String()
	gwLn.Close()
	passdb := ""
	write := func(slowStart string, origins ...string) {
		yml := fmt.Sprintf(`server:
  address: 127.0.0.1:9080
auth:
  services:
    enabled: []
%slua:
  filters:
    - name: route
      script_path: %s
definitions:
  backends:
    api:
      origins: [%s]
      load_balancing: round_robin
      slow_start: %s
      beta_health:
        path: /
        interval: 1h
gateway:
  address: %s
  endpoints:
    - path: /**
      proxy:
        backend: api
`, passdb, filter, strings.Join(origins, ", "), slowStart, gw)
		if err := os.WriteFile(path+".new", []byte(yml), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".new", path); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filter, []byte(goodFilter), 0o600); err != nil {
		t.Fatal(err)
	}
	write("1h", a.URL)
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
	var gatewayBuilt atomic.Pointer[func()]
	logger, level, err := newLoggerVar(logs, "info", "text")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runDaemonWith(ctx, daemonOptions{cfg: cfg, path: path, logger: logger, level: level, ln: ln,
			gatewayBuilt: func() {
				if hook := gatewayBuilt.Load(); hook != nil {
					(*hook)()
				}
			}})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("daemon: %v", err)
		}
	}()
	waitFor(t, "gateway listening", func() bool { return strings.Contains(logs.String(), `msg="gateway listening"`) })
	reload := func() int {
		t.Helper()
		resp, err := http.Post(api+"/api/v1/reload", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	type ramp struct {
		Since, Until time.Time
		Share        float64
	}
	rampOf := func(url string) *ramp {
		t.Helper()
		var body struct {
			Backends []struct {
				ID        string
				SlowStart *ramp `json:"slow_start"`
			}
		}
		if code := getJSON(t, api+"/api/v1/backends", &body); code != 200 {
			t.Fatalf("/api/v1/backends %d", code)
		}
		for _, x := range body.Backends {
			if strings.HasSuffix(x.ID, "@"+url) {
				return x.SlowStart
			}
		}
		t.Fatalf("no origin %s in %+v", url, body.Backends)
		return nil
	}

	write("1h", a.URL, b.URL)
	if code := reload(); code != 200 {
		t.Fatalf("reload adding b: %d\n%s", code, logs.String())
	}
	waitFor(t, "b in the snapshot", func() bool {
		var body struct{ Backends []struct{ ID string } }
		getJSON(t, api+"/api/v1/backends", &body)
		return strings.Contains(fmt.Sprint(body.Backends), b.URL)
	})
	if r := rampOf(b.URL); r != nil {
		t.Errorf("b ramps before any request: %+v", r)
	}
	for range 4 {
		if code, _ := httpGet(t, "http://"+gw+"/x"); code != 200 {
			t.Fatalf("gateway answered %d", code)
		}
	}
	r := rampOf(b.URL)
	if r == nil || r.Until.Sub(r.Since) != time.Hour || r.Share < 0.1 || r.Share > 0.2 {
		t.Fatalf("b's ramp after requests: %+v", r)
	}
	if _, page := httpGet(t, api+"/"); !strings.Contains(page, "slow start 10 % of its weight, full in") {
		t.Errorf("the status page does not show b's ramp")
	}
	if r := rampOf(a.URL); r != nil {
		t.Errorf("a, there from the start, ramps: %+v", r)
	}

	keepsRamp := func(when string) {
		t.Helper()
		if got := rampOf(b.URL); got == nil || !got.Since.Equal(r.Since) || got.Until.Sub(got.Since) != time.Hour {
			t.Errorf("%s: %+v, want the running 1h ramp from %v", when, got, r.Since)
		}
	}
	users := filepath.Join(dir, "users.passwd")
	writeUsers := func(content string) {
		if err := os.WriteFile(users, []byte(content), 0o600); err != nil {
			t.Error(err)
		}
	}
	passdb = "  passdb:\n    - type: passwd_file\n      path: " + users + "\n"
	built := 0
	countBuilt := func() { built++ }
	gatewayBuilt.Store(&countBuilt)

	// Refused by config validation, before a gateway is built.
	writeUsers("alice:{PLAIN}x\nalice:{PLAIN}y\n")
	write("2s", a.URL, b.URL)
	if code := reload(); code == 200 || built != 0 || !strings.Contains(logs.String(), "listed twice") {
		t.Fatalf("a reload with a user listed twice: %d, %d gateways built\n%s", code, built, logs.String())
	}
	keepsRamp("after a reload refused by validation")

	// Refused after the gateway was built: the file validated, then went
	// bad before the auth handler read it.
	writeUsers("alice:{PLAIN}x\n")
	breakUsers := func() {
		built++
		writeUsers("alice:{PLAIN}x\nalice:{PLAIN}y\n")
	}
	gatewayBuilt.Store(&breakUsers)
	refusals := strings.Count(logs.String(), "listed twice")
	if code := reload(); code == 200 || built != 1 || strings.Count(logs.String(), "listed twice") <= refusals {
		t.Fatalf("a reload whose passwd-file went bad after the gateway was built: %d, %d gateways built\n%s", code, built, logs.String())
	}
	keepsRamp("after a reload refused after the gateway was built")
}
