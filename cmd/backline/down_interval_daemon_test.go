package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The daemon end to end: a dead origin with down_interval shows the
// interval in use and why in /api/v1/backends, and a reload that changes
// down_interval keeps its state (down since the same moment) and shows
// the new interval.
func TestDaemonShowsDownIntervalAcrossReload(t *testing.T) {
	live := textOrigin(t, "ok")
	deadLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + deadLn.Addr().String()
	deadLn.Close() // refused from now on
	dir := t.TempDir()
	path := filepath.Join(dir, "backline.yml")
	gwLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gw := gwLn.Addr().String()
	gwLn.Close()
	write := func(down string) {
		yml := fmt.Sprintf(`server:
  address: 127.0.0.1:9080
auth:
  services:
    enabled: []
definitions:
  backends:
    api:
      origins: [%s, %s]
      beta_health:
        path: /
        interval: 1h
        failure_threshold: 1
        down_interval: %s
gateway:
  address: %s
  endpoints:
    - path: /**
      proxy:
        backend: api
`, live.URL, dead, down, gw)
		if err := os.WriteFile(path+".new", []byte(yml), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".new", path); err != nil {
			t.Fatal(err)
		}
	}
	write("30m")
	api, logs := startFileDaemon(t, path)
	type interval struct {
		State          string
		ConnectSeconds float64 `json:"connect_seconds"`
		Setting        string
	}
	type backend struct {
		ID            string
		Healthy       bool
		Since         time.Time
		CheckInterval *interval `json:"check_interval"`
	}
	get := func(url string) backend {
		t.Helper()
		var body struct{ Backends []backend }
		if code := getJSON(t, api+"/api/v1/backends", &body); code != 200 {
			t.Fatalf("/api/v1/backends %d", code)
		}
		for _, b := range body.Backends {
			if strings.HasSuffix(b.ID, "@"+url) {
				return b
			}
		}
		return backend{}
	}
	waitFor(t, "the dead origin down", func() bool {
		b := get(dead)
		return b.ID != "" && !b.Healthy
	})
	down := get(dead)
	if iv := down.CheckInterval; iv == nil || *iv != (interval{"down", 1800, "down_interval"}) {
		t.Fatalf("dead origin: check_interval %+v", iv)
	}
	if iv := get(live.URL).CheckInterval; iv == nil || *iv != (interval{"normal", 3600, ""}) {
		t.Fatalf("live origin: check_interval %+v", iv)
	}

	write("45m")
	resp, err := http.Post(api+"/api/v1/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("reload: %d\n%s", resp.StatusCode, logs.String())
	}
	waitFor(t, "the new down_interval shown", func() bool {
		iv := get(dead).CheckInterval
		return iv != nil && iv.ConnectSeconds == 2700
	})
	if b := get(dead); b.Healthy || !b.Since.Equal(down.Since) || *b.CheckInterval != (interval{"down", 2700, "down_interval"}) {
		t.Fatalf("after the reload: healthy %v since %v (was %v), check_interval %+v", b.Healthy, b.Since, down.Since, b.CheckInterval)
	}
}
