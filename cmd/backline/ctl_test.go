package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// ctlSeen is one request as the fake API received it.
type ctlSeen struct {
	Method, Path, Body string
	User, Password     string
	Bearer             string
}

// fakeCtlAPI answers every request with one canned status and body (or
// with handler) and records what it got.
type fakeCtlAPI struct {
	*httptest.Server
	mu      sync.Mutex
	seen    []ctlSeen
	status  int
	body    string
	handler http.HandlerFunc
}

func newFakeCtlAPI(t *testing.T, status int, body string) *fakeCtlAPI {
	t.Helper()
	f := &fakeCtlAPI{status: status, body: body}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		s := ctlSeen{Method: r.Method, Path: r.URL.EscapedPath(), Body: string(data)}
		s.User, s.Password, _ = r.BasicAuth()
		s.Bearer, _ = strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if s.User != "" {
			s.Bearer = ""
		}
		f.mu.Lock()
		f.seen = append(f.seen, s)
		f.mu.Unlock()
		if f.handler != nil {
			f.handler(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.status)
		_, _ = io.WriteString(w, f.body)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeCtlAPI) requests() []ctlSeen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ctlSeen(nil), f.seen...)
}

// jsonEqual compares two JSON texts by value; "" stands for no body.
func jsonEqual(t *testing.T, got, want string) bool {
	t.Helper()
	if got == "" || want == "" {
		return got == want
	}
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Errorf("request body is not JSON: %q", got)
		return false
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want %q", want)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	return string(gb) == string(wb)
}

const ctlAdminAnswer = `{"id":"mbox03","state":"drain","weight":50,"health":"auto","checks_paused":false,
 "who":"ops","why":"disk swap","since":"2026-12-03T07:00:00Z","until":"2026-12-03T07:30:00Z","source":"api"}`

const ctlListAnswer = `{"round":7,"backends":[
 {"id":"mbox01","name":"mbox01","group":"imap","protocol":"imap","host":"10.0.0.1","port":143,"healthy":true,
  "eligible":true,"reason":"","weight":1,"admin":{"state":"ready","weight":1,"health":"auto","source":"config"}},
 {"id":"mbox02","name":"mbox02","group":"imap","protocol":"imap","host":"10.0.0.2","port":143,"healthy":false,
  "eligible":false,"reason":"unhealthy","weight":1,"admin":{"state":"ready","weight":1,"health":"auto","source":"config"}},
 {"id":"mbox03","name":"mbox03","group":"imap","protocol":"imap","host":"10.0.0.3","port":143,"healthy":true,
  "eligible":false,"reason":"drain","weight":50,"admin":{"state":"drain","weight":50,"health":"auto","who":"ops",
  "why":"disk swap","until":"2026-12-03T07:30:00Z","source":"api"}},
 {"id":"imap://[2001:db8::1]:993","name":"imap://[2001:db8::1]:993","group":"imap6","protocol":"imap",
  "host":"2001:db8::1","port":993,"healthy":true,"eligible":true,"weight":2}
]}`

const ctlExplainAnswer = `{"status":"ok","backend":{"id":"mbox01","host":"10.0.0.1","port":143},
 "selected_by":"policy:user_hash","panic":false,"snapshot_round":7,"candidates":[
 {"id":"mbox03","host":"10.0.0.3","port":143,"eligible":false,"reason":"drain","chosen":false,"weight":50},
 {"id":"mbox01","host":"10.0.0.1","port":143,"eligible":true,"reason":"","chosen":true,"weight":1},
 {"id":"mbox02","host":"10.0.0.2","port":143,"eligible":false,"reason":"unhealthy","chosen":false,"weight":1}]}`

// setCtlClock fixes ctl's clock for "30m left" until the test ends.
func setCtlClock(t *testing.T, at string) {
	t.Helper()
	now, err := time.Parse(time.RFC3339, at)
	if err != nil {
		t.Fatal(err)
	}
	ctlNow = func() time.Time { return now }
	t.Cleanup(func() { ctlNow = time.Now })
}

// TestCtlRequests checks the exact request each command sends (method,
// escaped path, body, credentials) and what it prints.
func TestCtlRequests(t *testing.T) {
	setCtlClock(t, "2026-12-03T07:00:00Z")
	pwFile := writeFile(t, "api-password", "s3cret-pw\n")
	for _, c := range []struct {
		name       string
		args       []string
		status     int
		answer     string
		method     string
		path       string
		body       string
		wantOut    []string
		wantCode   int
		wantStderr string
	}{
		{name: "list", args: []string{"list"}, status: 200, answer: ctlListAnswer,
			method: "GET", path: "/api/v1/backends",
			wantOut: []string{"ID", "mbox02", "no (unhealthy)", "no (drain)", "drain 30m left", "[2001:db8::1]:993",
				"4 backends; eligible per group: imap 1/3, imap6 1/1"}},
		{name: "show", args: []string{"show", "imap://10.0.0.3:143"}, status: 200,
			answer: `{"id":"imap://10.0.0.3:143","group":"imap","protocol":"imap","host":"10.0.0.3","port":143,"healthy":true,
			 "eligible":true,"weight":1,"connect":{"healthy":true,"latency_ms":1.5,"last_check":"2026-12-03T07:00:00Z"}}`,
			method: "GET", path: "/api/v1/backends/imap%3A%2F%2F10.0.0.3%3A143",
			wantOut: []string{"id:", "imap://10.0.0.3:143", "eligible:", "yes", "connect check:", "ok at 2026-12-03T07:00:00Z in 1.5 ms"}},
		{name: "drain with ttl and why", args: []string{"drain", "mbox03", "--for", "30m", "--why", "disk swap"},
			status: 200, answer: ctlAdminAnswer,
			method: "PUT", path: "/api/v1/backends/mbox03/admin",
			body:    `{"state":"drain","ttl":"30m0s","why":"disk swap","who":"ops"}`,
			wantOut: []string{"mbox03: drain, weight 50, health auto, by ops: disk swap, until 2026-12-03T07:30:00Z (30m left), source api"}},
		{name: "maint", args: []string{"maint", "gateway:web@https://h:443"}, status: 200, answer: ctlAdminAnswer,
			method: "PUT", path: "/api/v1/backends/gateway%3Aweb%40https%3A%2F%2Fh%3A443/admin",
			body: `{"state":"maint","who":"ops"}`},
		{name: "ready", args: []string{"ready", "mbox03"}, status: 200, answer: ctlAdminAnswer,
			method: "PUT", path: "/api/v1/backends/mbox03/admin", body: `{"state":"ready","who":"ops"}`},
		{name: "ready reset", args: []string{"ready", "--reset", "mbox03"}, status: 200,
			answer: `{"id":"mbox03","state":"ready","weight":1,"health":"auto","source":"config"}`,
			method: "DELETE", path: "/api/v1/backends/mbox03/admin",
			wantOut: []string{"mbox03: returned to the configuration: ready, weight 1, health auto, source config"}},
		{name: "weight", args: []string{"weight", "mbox03", "0"}, status: 200, answer: ctlAdminAnswer,
			method: "PUT", path: "/api/v1/backends/mbox03/admin", body: `{"weight":0,"who":"ops"}`},
		{name: "weight 256", args: []string{"weight", "mbox03", "256", "--why", "big box"}, status: 200, answer: ctlAdminAnswer,
			method: "PUT", path: "/api/v1/backends/mbox03/admin", body: `{"weight":256,"why":"big box","who":"ops"}`},
		{name: "health", args: []string{"health", "mbox03", "down", "--for", "1h"}, status: 200, answer: ctlAdminAnswer,
			method: "PUT", path: "/api/v1/backends/mbox03/admin", body: `{"health":"down","ttl":"1h0m0s","who":"ops"}`},
		{name: "explain", args: []string{"explain", "alice", "--protocol", "imap", "--client-ip", "192.0.2.1", "--service", "header"},
			status: 200, answer: ctlExplainAnswer,
			method: "POST", path: "/api/v1/explain",
			body: `{"username":"alice","protocol":"imap","client_ip":"192.0.2.1","service":"header"}`,
			wantOut: []string{"alice -> mbox01 (10.0.0.1:143), selected by policy:user_hash",
				"status ok, snapshot round 7, panic no", "mbox01     10.0.0.1:143  1       yes     yes", "no (drain)"}},
		{name: "explain minimal", args: []string{"explain", "bob@example.org"}, status: 200,
			answer: `{"status":"rejected","backend":null,"candidates":[],"reason":"rejected by filter geo","filter_results":["geo: blocked"]}`,
			method: "POST", path: "/api/v1/explain", body: `{"username":"bob@example.org","protocol":"imap"}`,
			wantOut: []string{"bob@example.org -> no backend", "status rejected", "reason: rejected by filter geo\nfilter: geo: blocked\nno candidates"}},
		{name: "explain suppressed", args: []string{"explain", "carol"}, status: 200,
			answer: `{"status":"rejected","backend":null,"candidates":[],"reason":"rejected by filter rl","filter_results":["rl:ok"],` +
				`"suppressed_side_effects":["rl: nauthilus_cache.cache_set","rl: nauthilus_prometheus.increment_counter"]}`,
			method: "POST", path: "/api/v1/explain", body: `{"username":"carol","protocol":"imap"}`,
			wantOut: []string{"filter: rl:ok\nsuppressed: rl: nauthilus_cache.cache_set\nsuppressed: rl: nauthilus_prometheus.increment_counter\nno candidates"}},
		{name: "reload", args: []string{"reload"}, status: 200, answer: `{"status":"ok","generation":3,"duration_ms":12}`,
			method: "POST", path: "/api/v1/reload", wantOut: []string{"reloaded: generation 3 in 12 ms"}},
		{name: "reload refused", args: []string{"reload"}, status: 422,
			answer: `{"status":"failed","errors":["auth.nginx.policy (line 12): unknown policy","server.address (line 2): bad"]}`,
			method: "POST", path: "/api/v1/reload", wantCode: exitFail,
			wantStderr: "reload failed; the daemon keeps its old configuration:\n  auth.nginx.policy (line 12): unknown policy\n  server.address (line 2): bad\n"},
		{name: "unknown backend", args: []string{"drain", "nope"}, status: 404, answer: `{"error":"no backend \"nope\""}`,
			method: "PUT", path: "/api/v1/backends/nope/admin", body: `{"state":"drain","who":"ops"}`,
			wantCode: exitFail, wantStderr: `backline ctl: drain: PUT /api/v1/backends/nope/admin: 404 no backend "nope"`},
		{name: "bad field", args: []string{"drain", "mbox03", "--for", "9999h"}, status: 400, answer: `{"error":"ttl: too long"}`,
			method: "PUT", path: "/api/v1/backends/mbox03/admin", body: `{"state":"drain","ttl":"9999h0m0s","who":"ops"}`,
			wantCode: exitFail, wantStderr: "400 ttl: too long"},
		{name: "json", args: []string{"--json", "weight", "mbox03", "7"}, status: 200, answer: `{"id":"mbox03","weight":7}`,
			method: "PUT", path: "/api/v1/backends/mbox03/admin", body: `{"weight":7,"who":"ops"}`,
			wantOut: []string{"{\n  \"id\": \"mbox03\",\n  \"weight\": 7\n}\n"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeCtlAPI(t, c.status, c.answer)
			args := append([]string{"ctl", "--api", f.URL, "--api-user", "ops", "--password-file", pwFile}, c.args...)
			code, stdout, stderr := backline(t, args...)
			if code != c.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, c.wantCode, stdout, stderr)
			}
			reqs := f.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1: %+v", len(reqs), reqs)
			}
			r := reqs[0]
			if r.Method != c.method || r.Path != c.path || !jsonEqual(t, r.Body, c.body) {
				t.Errorf("request %s %s %s\nwant    %s %s %s", r.Method, r.Path, r.Body, c.method, c.path, c.body)
			}
			if r.User != "ops" || r.Password != "s3cret-pw" {
				t.Errorf("basic auth %q/%q, want ops and the file's password without its newline", r.User, r.Password)
			}
			for _, w := range c.wantOut {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			if !strings.Contains(stderr, c.wantStderr) {
				t.Errorf("stderr lacks %q:\n%s", c.wantStderr, stderr)
			}
			if strings.Contains(stdout+stderr, "s3cret-pw") {
				t.Errorf("output shows the password")
			}
		})
	}
}

// The list puts problems first: unhealthy, then drained, then the rest.
func TestCtlListOrder(t *testing.T) {
	f := newFakeCtlAPI(t, 200, ctlListAnswer)
	code, stdout, stderr := backline(t, "ctl", "--api", f.URL, "list")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n")[1:5] {
		ids = append(ids, strings.Fields(line)[0])
	}
	if got := strings.Join(ids, " "); got != "mbox02 mbox03 mbox01 imap://[2001:db8::1]:993" {
		t.Errorf("order %s\n%s", got, stdout)
	}
	if r := f.requests()[0]; r.User != "" || r.Bearer != "" {
		t.Errorf("credentials sent without any configured: %+v", r)
	}
}

// An older daemon sends no id, eligible, weight or admin: the table shows
// "-" rather than guessing.
func TestCtlListOlderDaemon(t *testing.T) {
	f := newFakeCtlAPI(t, 200, `{"round":1,"backends":[{"name":"imap://10.0.0.1:143","group":"mail","protocol":"imap",
	 "host":"10.0.0.1","port":143,"healthy":false}]}`)
	code, stdout, _ := backline(t, "ctl", "--api", f.URL, "list")
	if code != exitOK || !strings.Contains(stdout, "imap://10.0.0.1:143") || !strings.Contains(stdout, "up per group: mail 0/1") {
		t.Errorf("exit %d\n%s", code, stdout)
	}
}

// TestCtlExplainPanicText: a fail_closed panic tempfails, it does not use
// every backend; the text follows the status.
func TestCtlExplainPanicText(t *testing.T) {
	for status, want := range map[string]string{
		"ok":       "panic yes (too few backends eligible: use_all picked among all in service)",
		"tempfail": "panic yes (too few backends eligible: fail_closed tempfails)",
	} {
		var out strings.Builder
		c := &ctlClient{stdout: &out}
		c.printExplain("alice", ctlExplain{Status: status, Panic: true})
		if !strings.Contains(out.String(), want) {
			t.Errorf("status %s: %q, want %q", status, out.String(), want)
		}
	}
}
