package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/testfixture"
)

// Helpers for the runtime-control tests (issue 10): the real daemon binary
// (`backline serve`) with its health checks pointed at Dovecot A and B, a
// silent POP3 listener that always fails its deep check, the API and ctl.

const apiUser = "ops"

// daemonVariant is what a reload changes between configuration files; the
// listener address, credentials and targets' addresses stay the same.
type daemonVariant struct {
	policy string // auth.nginx.default_policy
	toB    bool   // add the Lua filter that sends every login to b-imap
	// silentDeepTimeout is the silent target's deep_timeout: changing it
	// changes its check settings but not its ID or address.
	silentDeepTimeout string
}

type daemon struct {
	*serveProcess
	t       *testing.T
	f       *testfixture.Fixture
	bin     string
	dir     string
	cfgFile string
	addr    string // host:port of the API and auth endpoints
	apiPW   string
	silent  int // port of the listener that accepts and never greets
	closed  int // a port nothing listens on
	client  *http.Client
}

// silentListener accepts connections and never writes: a deep check of it
// times out. Its connections end when the client closes them or the test ends.
func silentListener(t *testing.T) int {
	t.Helper()
	return serveLoopback(t, 0, func(c net.Conn) { _, _ = io.Copy(io.Discard, c); c.Close() }).port()
}

// render writes the configuration of variant v. The Dovecots must stay
// eligible throughout (the subtests expect a login on the one they name,
// and the last one that both stay eligible over a reload): they get the
// whole 2 s interval to greet (the default would be 1 s) and three failed
// checks in a row before they are out, so a Dovecot that greets late on a
// loaded machine does not move a login. silent-pop3 and closed-pop3 never
// pass a check and start unhealthy, so the threshold does not delay them.
func (d *daemon) render(v daemonVariant) string {
	var b strings.Builder
	fmt.Fprintf(&b, `server:
  address: "%s"
  log_level: info
  api_auth:
    username: %s
    password_file: "%s"
auth:
  services:
    enabled: [backend_health_checks]
    backend_health_checks:
      connect_interval: 2s
      deep_interval: 2s
      failure_threshold: 3
      recovery_threshold: 1
      initial_state: unhealthy
      jitter: 0
      targets:
        - {name: a-imap, protocol: imap, host: 127.0.0.1, port: %d, tls_mode: plain, connect_timeout: 2s}
        - {name: b-imap, protocol: imap, host: 127.0.0.1, port: %d, tls_mode: plain, connect_timeout: 2s}
        - {name: silent-pop3, protocol: pop3, host: 127.0.0.1, port: %d, tls_mode: plain, deep_check: true, deep_timeout: %s}
        - {name: closed-pop3, protocol: pop3, host: 127.0.0.1, port: %d, tls_mode: plain}
  passdb:
    - {type: passwd_file, path: "%s"}
  nginx:
    default_policy: %s
`, d.addr, apiUser, filepath.Join(d.dir, "api.pw"), d.f.Port("DOVECOT_A_IMAP"), d.f.Port("DOVECOT_B_IMAP"),
		d.silent, v.silentDeepTimeout, d.closed, filepath.Join(d.dir, "passwd"), v.policy)
	if v.toB {
		fmt.Fprintf(&b, "lua:\n  filters:\n    - {name: to-b, script_path: \"%s\"}\n", filepath.Join(d.dir, "to-b.lua"))
	}
	return b.String()
}

// toBScript sends every login to b-imap while it is eligible. It takes
// about 5 ms, like a filter that asks a remote service, so that reloads
// under load find runs of it in flight: a reload that freed the old
// configuration's Lua states under a running filter would fail its login.
const toBScript = `
local nauthilus_backend = require("nauthilus_backend")

function nauthilus_call_filter(request)
    local until_t = os.clock() + 0.005
    while os.clock() < until_t do end
    for _, s in ipairs(nauthilus_backend.get_backend_servers()) do
        if s.id == "b-imap" then
            nauthilus_backend.select_backend_server(s.host, s.port)
        end
    end
    return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end
`

// writeConfig replaces the configuration file atomically, so a reload
// never reads half of it.
func (d *daemon) writeConfig(v daemonVariant) {
	d.t.Helper()
	tmp := d.cfgFile + ".tmp"
	writeFile(d.t, tmp, d.render(v))
	if err := os.Rename(tmp, d.cfgFile); err != nil {
		d.t.Fatal(err)
	}
}

// startDaemon builds backline, writes the configuration and runs
// `backline serve` until the test ends; it returns once /readyz says the
// first round is done.
func startDaemon(t *testing.T, f *testfixture.Fixture, v daemonVariant) *daemon {
	t.Helper()
	d := &daemon{t: t, f: f, bin: buildBackline(t), dir: t.TempDir(),
		apiPW: "integ-api-password", silent: silentListener(t), closed: closedPort(t),
		client: &http.Client{Timeout: 10 * time.Second}}
	d.addr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	d.cfgFile = filepath.Join(d.dir, "backline.yml")
	writeFile(t, filepath.Join(d.dir, "api.pw"), d.apiPW+"\n")
	writeFile(t, filepath.Join(d.dir, "passwd"), fmt.Sprintf("%s:{PLAIN}%s\n", f.AliceUser, f.AlicePassword))
	writeFile(t, filepath.Join(d.dir, "to-b.lua"), toBScript)
	d.writeConfig(v)

	t.Cleanup(d.client.CloseIdleConnections) // after the daemon stopped
	d.serveProcess = startServe(t, "backline", d.bin, d.cfgFile, d.addr, d.client, 200, f.AlicePassword, d.apiPW)
	return d
}

// api sends an authenticated request and returns the status and body.
func (d *daemon) api(method, path, body string) (int, string) {
	d.t.Helper()
	req, err := http.NewRequest(method, "http://"+d.addr+path, strings.NewReader(body))
	if err != nil {
		d.t.Fatal(err)
	}
	req.SetBasicAuth(apiUser, d.apiPW)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := d.client.Do(req)
	if err != nil {
		d.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		d.t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

type adminState struct {
	State  string `json:"state"`
	Who    string `json:"who"`
	Why    string `json:"why"`
	Source string `json:"source"`
}

// admin sends a request to /api/v1/backends/{id}/admin, which must succeed.
func (d *daemon) admin(method, path, body string) adminState {
	d.t.Helper()
	code, answer := d.api(method, path, body)
	var a adminState
	if err := json.Unmarshal([]byte(answer), &a); code != http.StatusOK || err != nil {
		d.t.Fatalf("%s %s: %d %v\n%s", method, path, code, err, answer)
	}
	return a
}

// ctl runs `backline ctl --config FILE args...`, which must succeed.
func (d *daemon) ctl(args ...string) string {
	d.t.Helper()
	r := runBackline(d.t, d.bin, append([]string{"ctl", "--config", d.cfgFile}, args...)...)
	if r.code != 0 {
		d.t.Fatalf("ctl %v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

type backendState struct {
	ID       string     `json:"id"`
	Healthy  bool       `json:"healthy"`
	Eligible bool       `json:"eligible"`
	Reason   string     `json:"reason"`
	Connect  phaseState `json:"connect"`
	Deep     phaseState `json:"deep"`
}

type phaseState struct {
	ConsecutiveFailures int `json:"consecutive_failures"`
}

// backends returns GET /api/v1/backends by ID.
func (d *daemon) backends() map[string]backendState {
	d.t.Helper()
	code, body := d.api(http.MethodGet, "/api/v1/backends", "")
	if code != http.StatusOK {
		d.t.Fatalf("GET /api/v1/backends: %d %s", code, body)
	}
	var v struct {
		Backends []backendState `json:"backends"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		d.t.Fatalf("%v\n%s", err, body)
	}
	m := map[string]backendState{}
	for _, b := range v.Backends {
		m[b.ID] = b
	}
	return m
}

// reload asks for POST /api/v1/reload, which must succeed.
func (d *daemon) reload() {
	d.t.Helper()
	if code, body := d.api(http.MethodPost, "/api/v1/reload", ""); code != http.StatusOK || !strings.Contains(body, `"ok"`) {
		d.t.Fatalf("reload: %d %s", code, body)
	}
}

// headerPort asks the header endpoint (as a Dovecot Lua passdb would) where
// alice's login goes and returns the Proxy-Port attribute.
func (d *daemon) headerPort() string {
	d.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+d.addr+"/api/v1/auth/header", nil)
	req.SetBasicAuth(apiUser, d.apiPW)
	for k, v := range map[string]string{"Auth-Method": "plain", "Auth-User": d.f.AliceUser,
		"Auth-Pass": d.f.AlicePassword, "Auth-Protocol": "imap", "Client-IP": "127.0.0.1"} {
		req.Header.Set(k, v)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		d.t.Fatalf("header endpoint: %d %s", resp.StatusCode, resp.Header.Get("Auth-Status"))
	}
	return resp.Header.Get("X-Nauthilus-Proxy-Port")
}

// jsonPort is headerPort for the JSON endpoint.
func (d *daemon) jsonPort() string {
	d.t.Helper()
	body := fmt.Sprintf(`{"username":%q,"password":%q,"protocol":"imap","client_ip":"127.0.0.1"}`, d.f.AliceUser, d.f.AlicePassword)
	code, answer := d.api(http.MethodPost, "/api/v1/auth/json", body)
	if code != http.StatusOK {
		d.t.Fatalf("json endpoint: %d %s", code, answer)
	}
	var v struct {
		Attributes map[string][]any `json:"attributes"`
	}
	if err := json.Unmarshal([]byte(answer), &v); err != nil {
		d.t.Fatalf("%v\n%s", err, answer)
	}
	if p := v.Attributes["Proxy-Port"]; len(p) == 1 {
		return fmt.Sprint(p[0])
	}
	d.t.Fatalf("json endpoint: no Proxy-Port in %s", answer)
	return ""
}

// tryIMAPLogin logs in through nginx and out again; unlike imapLogin it
// returns an error instead of failing the test, for use in goroutines.
func tryIMAPLogin(addr, user, password string) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	rd := bufio.NewReader(c)
	expect := func(tag string) (string, error) {
		for {
			l, err := rd.ReadString('\n')
			if err != nil {
				return l, fmt.Errorf("waiting for %q: %w", tag, err)
			}
			if strings.HasPrefix(l, tag) {
				return strings.TrimSpace(l), nil
			}
		}
	}
	if _, err := expect("* OK"); err != nil {
		return err
	}
	if _, err := fmt.Fprintf(c, "a1 LOGIN %q %q\r\n", user, password); err != nil {
		return err
	}
	l, err := expect("a1 ")
	if err != nil {
		return err
	}
	if !strings.HasPrefix(l, "a1 OK") {
		return fmt.Errorf("LOGIN: %q", l)
	}
	if _, err := fmt.Fprint(c, "a2 LOGOUT\r\n"); err != nil {
		return err
	}
	_, err = expect("a2 ")
	return err
}

// logTail returns the last n lines of log that do not contain skip.
func logTail(log, skip string, n int) string {
	var kept []string
	for _, l := range strings.Split(log, "\n") {
		if !strings.Contains(l, skip) {
			kept = append(kept, l)
		}
	}
	return strings.Join(kept[max(0, len(kept)-n):], "\n")
}
