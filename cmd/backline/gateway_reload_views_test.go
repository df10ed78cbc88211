package main

import (
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The status page's slow-start view reads the gateway metrics the daemon
// creates at start, which follow whichever gateway a reload activates
// (TestDaemonShowsSlowStartAcrossReloads). That holds because a gateway
// cannot appear on a reload: gateway.address, adding the gateway
// included, is refused until a restart, with its key path and line, and
// the running daemon goes on without a gateway. Should gateway.address
// ever become reloadable, the metrics and the server's SlowStart view
// (runDaemonWith) must be created when the gateway first appears; this
// test fails first.
func TestReloadCannotAddTheGateway(t *testing.T) {
	origin := textOrigin(t, "a")
	path := filepath.Join(t.TempDir(), "backline.yml")
	const base = "server:\n  address: 127.0.0.1:9080\nauth:\n  services:\n    enabled: []\n"
	writeConfigFile(t, path, base)
	api, logs := startFileDaemon(t, path)

	gwLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gw := gwLn.Addr().String()
	gwLn.Close()
	writeConfigFile(t, path, base+`definitions:
  backends:
    api:
      origins: [`+origin.URL+`]
      load_balancing: round_robin
      slow_start: 1h
      beta_health:
        path: /
        interval: 1h
gateway:
  address: `+gw+`
  endpoints:
    - path: /**
      proxy:
        backend: api
`)
	code, body := postReload(t, api)
	want := `gateway.address (line 16): changed from \"\" to \"` + gw + `\"; a running daemon cannot apply this, restart backline`
	if code == http.StatusOK || !strings.Contains(body, want) {
		t.Fatalf("reload adding the gateway: %d %s\nwant %s", code, body, want)
	}
	if c, page := httpGet(t, api+"/"); c != 200 || strings.Contains(page, "slow start") {
		t.Errorf("status page after the refused reload: %d", c)
	}
	_, metrics := httpGet(t, api+"/metrics")
	if strings.Contains(metrics, "backline_gateway_") {
		t.Errorf("gateway series without a gateway")
	}
	var backends struct{ Backends []struct{ ID string } }
	if c := getJSON(t, api+"/api/v1/backends", &backends); c != 200 || len(backends.Backends) != 0 {
		t.Errorf("backends after the refused reload: %d %+v", c, backends.Backends)
	}
	if conn, err := net.DialTimeout("tcp", gw, time.Second); err == nil {
		conn.Close()
		t.Errorf("something listens on the refused gateway.address %s", gw)
	}
	if !strings.Contains(logs.String(), "the running configuration stays") {
		t.Errorf("log lacks the refusal:\n%s", logs.String())
	}
}
