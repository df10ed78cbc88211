package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
)

// /debug/pprof/ is absent unless server.pprof is set, and then it needs the
// API's credentials like every other route.
func TestPprofOnlyWhenEnabledAndBehindAPIAuth(t *testing.T) {
	off := startDaemon(t, "auth:\n  services:\n    enabled: []\n")
	if code, _ := httpGet(t, "http://"+off.api+"/debug/pprof/"); code != http.StatusNotFound {
		t.Errorf("pprof off: /debug/pprof/ answered %d, want 404", code)
	}

	on := startDaemon(t, "server:\n  pprof: true\n  api_auth:\n    username: ops\n    password: s3cret-pw\nauth:\n  services:\n    enabled: []\n")
	url := "http://" + on.api + "/debug/pprof/"
	if code, _ := httpGet(t, url); code != http.StatusUnauthorized {
		t.Errorf("pprof without credentials: %d, want 401", code)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	for _, path := range []string{"", "goroutine?debug=1", "heap", "cmdline"} {
		req, _ := http.NewRequest(http.MethodGet, url+path, nil)
		req.SetBasicAuth("ops", "s3cret-pw")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET /debug/pprof/%s with credentials: %d", path, resp.StatusCode)
		}
	}
}

func TestBuildInfoMetric(t *testing.T) {
	d := startDaemon(t, "auth:\n  services:\n    enabled: []\n")
	code, body := httpGet(t, "http://"+d.api+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "backline_build_info{") {
			if !strings.Contains(line, `goversion="go1.`) || !strings.Contains(line, `version="`) || !strings.HasSuffix(line, " 1") {
				t.Errorf("build info line %q", line)
			}
			return
		}
	}
	t.Errorf("no backline_build_info in /metrics")
}

func TestPprofNeedsAPIAuthOffLoopback(t *testing.T) {
	for _, c := range []struct {
		yaml string
		ok   bool
	}{
		{"server:\n  address: 0.0.0.0:9080\n  pprof: true\n", false},
		{"server:\n  address: 192.0.2.1:9080\n  pprof: true\n", false},
		{"server:\n  address: 127.0.0.1:9080\n  pprof: true\n", true},
		{"server:\n  address: localhost:9080\n  pprof: true\n", true},
		{"server:\n  address: '[::1]:9080'\n  pprof: true\n", true},
		{"server:\n  address: 0.0.0.0:9080\n  pprof: true\n  api_auth:\n    bearer_token: tok-123\n", true},
	} {
		_, err := config.Parse([]byte(c.yaml + "auth:\n  services:\n    enabled: []\n"))
		if c.ok != (err == nil) {
			t.Errorf("%q: err %v, want ok=%v", c.yaml, err, c.ok)
		}
		if err != nil && (!strings.Contains(err.Error(), "server.pprof") || !strings.Contains(err.Error(), "line 3")) {
			t.Errorf("%q: error lacks key path or line: %v", c.yaml, err)
		}
	}
}
