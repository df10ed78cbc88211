package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// servedBackline is one `backline serve` process of a test, with a
// configuration the test wrote in full (startDaemon's is fixed).
type servedBackline struct {
	t       *testing.T
	addr    string // host:port of the API and auth endpoints
	user    string // server.api_auth
	pw      string
	logs    *lockedBuffer
	client  *http.Client
	cfgFile string
}

// serveBackline writes cfg to dir/backline.yml, runs `backline serve` until
// the test ends and returns once /readyz answers 200. secrets must never
// appear in its log (checked when the test ends).
func serveBackline(t *testing.T, bin, dir, addr, user, pw, cfg string, secrets ...string) *servedBackline {
	t.Helper()
	s := &servedBackline{t: t, addr: addr, user: user, pw: pw, logs: &lockedBuffer{},
		client: &http.Client{Timeout: 10 * time.Second}, cfgFile: filepath.Join(dir, "backline.yml")}
	writeFile(t, s.cfgFile, cfg)
	cmd := exec.Command(bin, "serve", "--config", s.cfgFile)
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Error("backline did not stop within 10s of SIGTERM")
		}
		s.client.CloseIdleConnections()
		for _, secret := range append(secrets, pw) {
			if secret != "" && strings.Contains(s.logs.String(), secret) {
				t.Error("backline logged a password")
			}
		}
		if t.Failed() {
			t.Logf("backline %s log:\n%s", addr, logTail(s.logs.String(), "\x00", 200))
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := s.client.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case err := <-exited:
			exited <- err // for the cleanup, which waits for it
			t.Fatalf("backline exited: %v\n%s", err, s.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("backline not ready within 20s (last: %v)\n%s", err, s.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// api sends an authenticated request and returns the status and body.
func (s *servedBackline) api(method, path, body string) (int, string) {
	s.t.Helper()
	req, err := http.NewRequest(method, "http://"+s.addr+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.SetBasicAuth(s.user, s.pw)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// waitHealthy waits (bounded) until every named backend is eligible.
func (s *servedBackline) waitHealthy(ids ...string) {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, body := s.api(http.MethodGet, "/api/v1/backends", "")
		var v struct {
			Backends []backendState `json:"backends"`
		}
		if code == http.StatusOK && json.Unmarshal([]byte(body), &v) == nil {
			eligible := map[string]bool{}
			for _, b := range v.Backends {
				eligible[b.ID] = b.Eligible
			}
			missing := 0
			for _, id := range ids {
				if !eligible[id] {
					missing++
				}
			}
			if missing == 0 {
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("backends %v not all eligible within 20s: %d %s", ids, code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// chosenPort asks the JSON endpoint, with the protocol given explicitly,
// which port user's login of that protocol goes to (Proxy-Port).
func (s *servedBackline) chosenPort(user, password, protocol string) string {
	s.t.Helper()
	body := fmt.Sprintf(`{"username":%q,"password":%q,"protocol":%q,"client_ip":"127.0.0.1"}`, user, password, protocol)
	code, answer := s.api(http.MethodPost, "/api/v1/auth/json", body)
	if code != http.StatusOK {
		s.t.Fatalf("json endpoint: %d %s", code, answer)
	}
	var v struct {
		Attributes map[string][]any `json:"attributes"`
	}
	if err := json.Unmarshal([]byte(answer), &v); err != nil {
		s.t.Fatalf("%v\n%s", err, answer)
	}
	if p := v.Attributes["Proxy-Port"]; len(p) == 1 {
		return fmt.Sprint(p[0])
	}
	s.t.Fatalf("json endpoint: no Proxy-Port in %s", answer)
	return ""
}

// servicePort is chosenPort for a request that names the protocol only as
// Dovecot's `service`, as Nauthilus's Dovecot Lua example sends it; "" when
// the answer has no Proxy-Port.
func (s *servedBackline) servicePort(user, password, service string) string {
	s.t.Helper()
	body := fmt.Sprintf(`{"username":%q,"password":%q,"service":%q,"client_ip":"127.0.0.1"}`, user, password, service)
	code, answer := s.api(http.MethodPost, "/api/v1/auth/json", body)
	var v struct {
		Attributes map[string][]any `json:"attributes"`
	}
	if code != http.StatusOK || json.Unmarshal([]byte(answer), &v) != nil || len(v.Attributes["Proxy-Port"]) != 1 {
		return ""
	}
	return fmt.Sprint(v.Attributes["Proxy-Port"][0])
}
