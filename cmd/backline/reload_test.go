package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/lua"
)

// reloadFixture is a daemon started from a file in a temporary directory,
// with a passwd-file, a Lua filter that picks a backend port, and a gateway
// route to one of two origins.
type reloadFixture struct {
	t          *testing.T
	dir, path  string
	api, gw    string
	logs       *syncBuffer
	originA    *httptest.Server
	originB    *httptest.Server
	client     *http.Client
	cancel     func()
	done       chan error
	apiAddress string // server.address in the file (the test listens elsewhere)
	// closedGens receives the id of each generation the daemon closed.
	closedGens chan uint64
	// gatewayBuilt, when set, runs in a reload once its gateway is built
	// (daemonOptions.gatewayBuilt).
	gatewayBuilt atomic.Pointer[func()]
}

// fileVersion is what a configuration file of the fixture says.
type fileVersion struct {
	filterPort int    // the port the Lua filter selects
	origin     string // "a" or "b"
	extra      string // appended to the file as is
	luaSource  string // replaces the filter script when set
	services   string // replaces auth.services' "enabled: []" when set
	logLevel   string // server.log_level when set
	luaConfig  string // lua.config's keys ("password_hash_workers: 3"), one per line
}

func (f *reloadFixture) yaml(v fileVersion) string {
	origin := f.originA.URL
	if v.origin == "b" {
		origin = f.originB.URL
	}
	services := v.services
	if services == "" {
		services = "    enabled: []\n"
	}
	server := f.apiAddress
	if v.logLevel != "" {
		server += "\n  log_level: " + v.logLevel
	}
	luaConfig := ""
	if v.luaConfig != "" {
		luaConfig = "  config:\n    " + strings.ReplaceAll(v.luaConfig, "\n", "\n    ") + "\n"
	}
	return fmt.Sprintf(`server:
  address: %s
lua:
%s  filters:
    - name: pick
      script_path: %s
auth:
  passdb:
    - type: passwd_file
      path: %s
  services:
%sdefinitions:
  backends:
    origin:
      origin: %s
gateway:
  address: %s
  endpoints:
    - path: /r
      proxy:
        backend: origin
%s`, server, luaConfig, filepath.Join(f.dir, "filter.lua"), filepath.Join(f.dir, "users"), services, origin, f.gw, v.extra)
}

const pickFilter = `
local nauthilus_backend = require("nauthilus_backend")
function nauthilus_call_filter(request)
  if request.authenticated then
    nauthilus_backend.select_backend_server("127.0.0.1", %d)
  end
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end
`

// write replaces the configuration file (and the filter script) with v.
func (f *reloadFixture) write(v fileVersion) {
	f.t.Helper()
	src := v.luaSource
	if src == "" {
		src = fmt.Sprintf(pickFilter, v.filterPort)
	}
	// The new script goes to a new file and is renamed into place, as an
	// editor or a deployment does; a running VM never sees half a file.
	for name, content := range map[string]string{"filter.lua": src, "backline.yml": f.yaml(v)} {
		tmp := filepath.Join(f.dir, name+".new")
		if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
			f.t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(f.dir, name)); err != nil {
			f.t.Fatal(err)
		}
	}
}

func textOrigin(t *testing.T, text string) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, text) }))
	t.Cleanup(s.Close)
	return s
}

// startReloadFixture runs the daemon on v until the test ends.
func startReloadFixture(t *testing.T, v fileVersion) *reloadFixture {
	t.Helper()
	return startReloadFixtureHost(t, v, nil)
}

// startReloadFixtureHost is startReloadFixture with the daemon's Lua host
// (nil: the daemon makes one).
func startReloadFixtureHost(t *testing.T, v fileVersion, host *lua.Host) *reloadFixture {
	t.Helper()
	f := &reloadFixture{t: t, dir: t.TempDir(), logs: &syncBuffer{}, apiAddress: "127.0.0.1:9080",
		originA: textOrigin(t, "origin-a"), originB: textOrigin(t, "origin-b"),
		// The timeout bounds a hung daemon only: on a loaded CI machine an
		// in-process /metrics under -race took over 10 s.
		client:     &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
		closedGens: make(chan uint64, 100)}
	f.path = filepath.Join(f.dir, "backline.yml")
	if err := os.WriteFile(filepath.Join(f.dir, "users"), []byte("alice:{PLAIN}alice-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	gwLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.gw = gwLn.Addr().String()
	gwLn.Close()
	f.write(v)
	cfg, err := config.Load(f.path)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.api = ln.Addr().String()
	logger, level, err := newLoggerVar(f.logs, "info", "text")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel, f.done = cancel, make(chan error, 1)
	go func() {
		f.done <- runDaemonWith(ctx, daemonOptions{cfg: cfg, path: f.path, logger: logger, level: level, ln: ln,
			closed: func(id uint64) { f.closedGens <- id }, luaHost: host,
			gatewayBuilt: func() {
				if hook := f.gatewayBuilt.Load(); hook != nil {
					(*hook)()
				}
			}})
	}()
	t.Cleanup(f.stop)
	waitFor(t, "backline started", func() bool { return strings.Contains(f.logs.String(), `msg="gateway listening"`) })
	return f
}

// stop ends the daemon (once) and checks it stopped cleanly.
func (f *reloadFixture) stop() {
	if f.cancel == nil {
		return
	}
	f.cancel()
	f.cancel = nil
	if err := <-f.done; err != nil {
		f.t.Errorf("daemon: %v", err)
	}
	f.client.CloseIdleConnections()
}

type reloadAnswer struct {
	Status     string   `json:"status"`
	Generation uint64   `json:"generation"`
	Errors     []string `json:"errors"`
}

func (f *reloadFixture) reload() (int, reloadAnswer) {
	f.t.Helper()
	resp, err := f.client.Post("http://"+f.api+"/api/v1/reload", "", nil)
	if err != nil {
		f.t.Fatalf("POST /api/v1/reload: %v", err)
	}
	defer resp.Body.Close()
	var a reloadAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		f.t.Fatalf("reload answer: %v", err)
	}
	return resp.StatusCode, a
}

// gateway returns the body /r answers, or an error text.
func (f *reloadFixture) gateway() (string, error) {
	resp, err := f.client.Get("http://" + f.gw + "/r")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	return string(body), err
}

// nginxPort returns the Auth-Port of an nginx auth_http answer for alice.
func (f *reloadFixture) nginxPort() (string, error) {
	req, _ := http.NewRequest("GET", "http://"+f.api+"/api/v1/auth/nginx", nil)
	for k, v := range map[string]string{"Auth-Method": "plain", "Auth-User": "alice", "Auth-Pass": "alice-pw",
		"Auth-Protocol": "imap", "Auth-Login-Attempt": "1", "Client-IP": "192.0.2.7"} {
		req.Header.Set(k, v)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if st := resp.Header.Get("Auth-Status"); resp.StatusCode != 200 || st != "OK" {
		return "", fmt.Errorf("status %d, Auth-Status %q", resp.StatusCode, st)
	}
	return resp.Header.Get("Auth-Port"), nil
}

// metric returns the value of one series line of /metrics.
func (f *reloadFixture) metric(series string) string {
	f.t.Helper()
	_, body := httpGet(f.t, "http://"+f.api+"/metrics")
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return "missing"
	}
	return m[1]
}

func (f *reloadFixture) want(gateway, port string) {
	f.t.Helper()
	if got, err := f.gateway(); err != nil || got != gateway {
		f.t.Errorf("gateway /r = %q (%v), want %q", got, err, gateway)
	}
	if got, err := f.nginxPort(); err != nil || got != port {
		f.t.Errorf("nginx Auth-Port = %q (%v), want %q", got, err, port)
	}
}

// A valid reload changes a gateway route's backend and what the Lua filter
// decides; the metrics count it.
func TestReloadAppliesGatewayAndAuthChanges(t *testing.T) {
	f := startReloadFixture(t, fileVersion{filterPort: 1143, origin: "a"})
	f.want("origin-a", "1143")
	if got := f.metric("backline_config_last_reload_successful"); got != "1" {
		t.Errorf("last_reload_successful at start = %s", got)
	}
	f.write(fileVersion{filterPort: 2143, origin: "b"})
	status, a := f.reload()
	if status != 200 || a.Status != "ok" || a.Generation != 2 {
		t.Fatalf("reload: %d %+v\n%s", status, a, f.logs.String())
	}
	f.want("origin-b", "2143")
	// Registered once: the gateway and auth counters carry on across the
	// reload (one request on each side before it, one after).
	if got := f.metric(`backline_gateway_requests_total{backend="origin",code="200"}`); got != "2" {
		t.Errorf("gateway requests counter = %s, want 2", got)
	}
	if got := f.metric(`backline_auth_requests_total{endpoint="nginx",outcome="ok",protocol="imap"}`); got != "2" {
		t.Errorf("auth requests counter = %s, want 2", got)
	}
	if got := f.metric(`backline_config_reloads_total{result="success"}`); got != "1" {
		t.Errorf("reloads_total success = %s", got)
	}
	if got := f.metric("backline_config_last_reload_successful"); got != "1" {
		t.Errorf("last_reload_successful = %s", got)
	}
	if !strings.Contains(f.logs.String(), `msg="configuration reloaded"`) {
		t.Errorf("no reload log line:\n%s", f.logs.String())
	}
	if strings.Contains(f.logs.String(), "level=DEBUG") {
		t.Fatal("DEBUG lines at log_level info")
	}
	// server.log_level applies at once.
	f.write(fileVersion{filterPort: 2143, origin: "b", logLevel: "debug"})
	if status, a := f.reload(); status != 200 {
		t.Fatalf("reload: %d %+v", status, a)
	}
	f.want("origin-b", "2143")
	if !strings.Contains(f.logs.String(), `level=DEBUG msg="HTTP request"`) {
		t.Errorf("log_level debug not applied:\n%s", f.logs.String())
	}
}

// An invalid file keeps the running configuration; the API answer and the
// log name every error with its key path and line.
func TestInvalidReloadKeepsRunningConfig(t *testing.T) {
	cases := []struct {
		name string
		v    fileVersion
		want []string // each must appear in the errors
	}{
		{"YAML syntax", fileVersion{filterPort: 2143, origin: "b", extra: "  endpoints: [\n"}, []string{"line"}},
		{"unknown key", fileVersion{filterPort: 2143, origin: "b", extra: "  no_such_key: 1\n"},
			[]string{"gateway.no_such_key (line 23)"}},
		{"validation", fileVersion{filterPort: 2143, origin: "b", extra: "  max_connections: -3\n"},
			[]string{"gateway.max_connections (line 23)"}},
		{"Lua syntax", fileVersion{filterPort: 2143, origin: "b", luaSource: "function nauthilus_call_filter(\n  return\n"},
			[]string{"lua.filters[0].script_path (line 6)"}},
		{"listener address", fileVersion{filterPort: 2143, origin: "b", extra: "server:\n  address: 127.0.0.1:9081\n"},
			nil},
	}
	f := startReloadFixture(t, fileVersion{filterPort: 1143, origin: "a"})
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f.t = t
			v := c.v
			if c.name == "listener address" {
				v.extra = ""
				f.apiAddress = "127.0.0.1:9081"
				defer func() { f.apiAddress = "127.0.0.1:9080" }()
				c.want = []string{"server.address (line 2): changed from \"127.0.0.1:9080\" to \"127.0.0.1:9081\""}
			}
			f.write(v)
			status, a := f.reload()
			if status != 422 || a.Status != "failed" || a.Generation != 1 || len(a.Errors) == 0 {
				t.Fatalf("reload: %d %+v", status, a)
			}
			joined := strings.Join(a.Errors, "\n")
			for _, w := range c.want {
				if !strings.Contains(joined, w) {
					t.Errorf("errors lack %q:\n%s", w, joined)
				}
			}
			for _, e := range a.Errors {
				if !strings.Contains(f.logs.String(), "level=ERROR msg=\"configuration reload error\" error="+fmt.Sprintf("%q", e)) &&
					!strings.Contains(f.logs.String(), "level=ERROR msg=\"configuration reload error\" error="+e) {
					t.Errorf("error not logged: %s\n%s", e, f.logs.String())
				}
			}
			f.want("origin-a", "1143")
			if got := f.metric("backline_config_last_reload_successful"); got != "0" {
				t.Errorf("last_reload_successful = %s", got)
			}
			if got := f.metric(`backline_config_reloads_total{result="failure"}`); got != fmt.Sprint(i+1) {
				t.Errorf("reloads_total failure = %s", got)
			}
		})
	}
	f.t = t
	// A good file after the bad ones is taken, as generation 2.
	f.write(fileVersion{filterPort: 2143, origin: "b"})
	if status, a := f.reload(); status != 200 || a.Generation != 2 {
		t.Fatalf("good reload after bad ones: %d %+v", status, a)
	}
	f.want("origin-b", "2143")
}

// `backline ctl reload` goes through the API: a refused file exits 1 with
// every error, a good one reports the new generation.
func TestCtlReloadAgainstDaemon(t *testing.T) {
	f := startReloadFixture(t, fileVersion{filterPort: 1143, origin: "a"})
	f.write(fileVersion{filterPort: 2143, origin: "b", extra: "  max_connections: -3\n"})
	code, stdout, stderr := backline(t, "ctl", "--api", "http://"+f.api, "reload")
	if code != exitFail || !strings.Contains(stderr, "gateway.max_connections (line 23): must be") {
		t.Errorf("refused reload: exit %d\n%s%s", code, stdout, stderr)
	}
	f.want("origin-a", "1143")
	f.write(fileVersion{filterPort: 2143, origin: "b"})
	code, stdout, stderr = backline(t, "ctl", "--api", "http://"+f.api, "reload")
	if code != exitOK || !strings.Contains(stdout, "reloaded: generation 2") {
		t.Errorf("reload: exit %d\n%s%s", code, stdout, stderr)
	}
	f.want("origin-b", "2143")
}

// Reloads run one at a time: parallel requests each get their own
// generation, and the last file wins.
func TestParallelReloadsAreSerialized(t *testing.T) {
	f := startReloadFixture(t, fileVersion{filterPort: 1143, origin: "a"})
	f.write(fileVersion{filterPort: 2143, origin: "b"})
	const n = 4
	gens := make(chan uint64, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			status, a := f.reload()
			if status != 200 {
				t.Errorf("reload: %d %+v", status, a)
			}
			gens <- a.Generation
		})
	}
	wg.Wait()
	close(gens)
	seen := map[uint64]bool{}
	for g := range gens {
		seen[g] = true
	}
	for g := uint64(2); g < 2+n; g++ {
		if !seen[g] {
			t.Errorf("generation %d missing: %v", g, seen)
		}
	}
	f.want("origin-b", "2143")
}

// A file that is gone, or a directory in its place, is an error like any
// other: the running configuration stays.
func TestReloadOfMissingFileKeepsRunningConfig(t *testing.T) {
	f := startReloadFixture(t, fileVersion{filterPort: 1143, origin: "a"})
	if err := os.Remove(f.path); err != nil {
		t.Fatal(err)
	}
	if status, a := f.reload(); status != 422 || len(a.Errors) != 1 || !strings.Contains(a.Errors[0], "backline.yml") {
		t.Errorf("missing file: %d %+v", status, a)
	}
	if err := os.Mkdir(f.path, 0o700); err != nil {
		t.Fatal(err)
	}
	if status, a := f.reload(); status != 422 || len(a.Errors) != 1 {
		t.Errorf("directory: %d %+v", status, a)
	}
	f.want("origin-a", "1143")
}
