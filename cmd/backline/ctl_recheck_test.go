package main

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestCtlRecheck: the request (POST, escaped ID, wait under --timeout),
// the line printed and the exit code for each outcome.
func TestCtlRecheck(t *testing.T) {
	const backend = `"backend":{"id":"imap://10.0.0.3:143","healthy":true,"eligible":true,"weight":1}`
	for _, c := range []struct {
		name       string
		args       []string
		status     int
		answer     string
		wait       string
		wantOut    string
		wantStderr string
		wantCode   int
	}{
		{name: "ok", args: []string{"recheck", "imap://10.0.0.3:143"}, status: 200,
			answer:  `{"id":"imap://10.0.0.3:143","status":"done","probe":{"phase":"connect","ok":true,"latency_ms":1.25},` + backend + `}`,
			wait:    "8s",
			wantOut: "imap://10.0.0.3:143: probe connect ok in 1.25 ms; now up, eligible yes\n"},
		{name: "failed", args: []string{"recheck", "mbox03", "--timeout", "3s"}, status: 200,
			answer: `{"id":"mbox03","status":"done","joined":true,"probe":{"phase":"deep","ok":false,"reason":"refused",` +
				`"error":"dial tcp 10.0.0.3:143: connection refused"},"backend":{"healthy":false,"eligible":false,"reason":"unhealthy"}}`,
			wait:     "1.5s",
			wantOut:  "mbox03: probe deep failed: refused: dial tcp 10.0.0.3:143: connection refused (shared with a request already under way); now down, eligible no (unhealthy)\n",
			wantCode: exitFail},
		{name: "running", args: []string{"recheck", "mbox03"}, status: 202, answer: `{"id":"mbox03","status":"running"}`,
			wait: "8s", wantStderr: "the probe is still running", wantCode: exitFail},
		{name: "cancelled", args: []string{"recheck", "mbox03"}, status: 200, answer: `{"id":"mbox03","status":"cancelled"}`,
			wait: "8s", wantStderr: "no probe ran (cancelled", wantCode: exitFail},
		{name: "limited", args: []string{"recheck", "mbox03"}, status: 429,
			answer: `{"error":"a probe of this backend was requested less than a second ago"}`, wait: "8s",
			wantStderr: "backline ctl: recheck: POST /api/v1/backends/mbox03/recheck?wait=8s: 429 a probe of this backend was requested less than a second ago",
			wantCode:   exitFail},
		{name: "unknown", args: []string{"recheck", "nope"}, status: 404, answer: `{"error":"no backend with id \"nope\""}`,
			wait: "8s", wantStderr: `404 no backend with id "nope"`, wantCode: exitFail},
		{name: "json", args: []string{"recheck", "mbox03", "--json"}, status: 200,
			answer: `{"id":"mbox03","status":"done","probe":{"phase":"connect","ok":true}}`, wait: "8s",
			wantOut: "{\n  \"id\": \"mbox03\",\n  \"status\": \"done\",\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeCtlAPI(t, c.status, c.answer)
			queries := make(chan string, 1)
			f.handler = func(w http.ResponseWriter, r *http.Request) {
				queries <- r.URL.RawQuery
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(c.status)
				_, _ = w.Write([]byte(c.answer))
			}
			code, stdout, stderr := backline(t, append([]string{"ctl", "--api", f.URL}, c.args...)...)
			if code != c.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, c.wantCode, stdout, stderr)
			}
			r, query := f.requests()[0], <-queries
			wantPath := "/api/v1/backends/" + ctlEscapeID(c.args[1]) + "/recheck"
			if r.Method != "POST" || r.Path != wantPath || r.Body != "" || query != "wait="+c.wait {
				t.Errorf("request %s %s?%s %q, want POST %s?wait=%s", r.Method, r.Path, query, r.Body, wantPath, c.wait)
			}
			if !strings.Contains(stdout, c.wantOut) {
				t.Errorf("stdout %q lacks %q", stdout, c.wantOut)
			}
			if !strings.Contains(stderr, c.wantStderr) {
				t.Errorf("stderr %q lacks %q", stderr, c.wantStderr)
			}
		})
	}
}

func TestCtlRecheckUsage(t *testing.T) {
	for _, args := range [][]string{{"recheck"}, {"recheck", "a", "b"}, {"recheck", ""}, {"recheck", "a", "--for", "1m"}} {
		code, _, stderr := backline(t, append([]string{"ctl", "--api", "http://127.0.0.1:1"}, args...)...)
		if code != exitUsage {
			t.Errorf("%q: exit %d, want %d (%s)", args, code, exitUsage, stderr)
		}
	}
}

func TestRecheckWaitStaysUnderTheTimeout(t *testing.T) {
	for timeout, want := range map[time.Duration]time.Duration{
		10 * time.Second: 8 * time.Second, 3 * time.Second: 1500 * time.Millisecond,
		time.Millisecond: 0, time.Hour: time.Minute,
	} {
		if got := recheckWait(timeout); got != want {
			t.Errorf("recheckWait(%s) = %s, want %s", timeout, got, want)
		}
	}
}
