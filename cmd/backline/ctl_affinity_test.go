package main

import (
	"strings"
	"testing"
)

// TestCtlAffinity checks each affinity command's request and output.
func TestCtlAffinity(t *testing.T) {
	for _, c := range []struct {
		args         []string
		answer       string
		method, path string
		body         string
		want         string
	}{
		{[]string{"affinity", "show", "alice@example.org"},
			`{"user":"alice@example.org","entries":[{"protocol":"imap","backend":"mbox02"}]}`,
			"GET", "/api/v1/affinity/alice%40example.org", "", "alice@example.org imap: stays on mbox02"},
		{[]string{"affinity", "show", "bob", "--protocol", "pop3"}, `{"user":"bob","entries":[]}`,
			"GET", "/api/v1/affinity/bob?protocol=pop3", "", "bob: no stored backend"},
		{[]string{"affinity", "move", "a/b", "mbox03"},
			`{"user":"a/b","entries":[{"protocol":"imap","backend":"mbox03"}]}`,
			"PUT", "/api/v1/affinity/a%2Fb", `{"backend":"mbox03"}`, "a/b imap: moved to mbox03"},
		{[]string{"affinity", "flush", "alice", "--protocol", "imap"}, `{"user":"alice","flushed":["imap"]}`,
			"DELETE", "/api/v1/affinity/alice?protocol=imap", "", "alice: affinity flushed"},
		{[]string{"affinity", "show", "eve"}, `{"user":"eve\u001b[31m","entries":[{"protocol":"imap","backend":"x\u001b[2J"}]}`,
			"GET", "/api/v1/affinity/eve", "", "imap: stays on x"},
	} {
		f := newFakeCtlAPI(t, 200, c.answer)
		code, stdout, stderr := backline(t, append([]string{"ctl", "--api", f.URL}, c.args...)...)
		if code != exitOK || !strings.Contains(stdout, c.want) {
			t.Errorf("ctl %q: exit %d, stdout %q, stderr %q; want %q", c.args, code, stdout, stderr, c.want)
		}
		if strings.Contains(stdout, "\x1b") {
			t.Errorf("ctl %q printed an escape sequence: %q", c.args, stdout)
		}
		reqs := f.requests()
		if len(reqs) != 1 {
			t.Fatalf("ctl %q: %d requests", c.args, len(reqs))
		}
		r := reqs[0]
		path := r.Path
		if i := strings.Index(c.path, "?"); i >= 0 {
			path += c.path[i:] // the fake records the path without the query
		}
		if r.Method != c.method || path != c.path || !jsonEqual(t, r.Body, c.body) {
			t.Errorf("ctl %q sent %s %s %s, want %s %s %s", c.args, r.Method, path, r.Body, c.method, c.path, c.body)
		}
	}
	// A 404 from the API is exit 1 with its message.
	f := newFakeCtlAPI(t, 404, `{"error":"no mail backend \"nope\""}`)
	if code, _, stderr := backline(t, "ctl", "--api", f.URL, "affinity", "move", "alice", "nope"); code != exitFail || !strings.Contains(stderr, "no mail backend") {
		t.Errorf("move to an unknown backend: exit %d %s", code, stderr)
	}
}

func TestCtlAffinityUsageErrors(t *testing.T) {
	f := newFakeCtlAPI(t, 200, `{}`)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"affinity"}, "affinity: missing show, move or flush"},
		{[]string{"affinity", "list", "u"}, `affinity: want show, move or flush, got "list"`},
		{[]string{"affinity", "show"}, "affinity show: missing USER"},
		{[]string{"affinity", "show", "a", "b"}, `affinity show: unexpected argument "b"`},
		{[]string{"affinity", "move", "a"}, "affinity move: missing USER ID"},
		{[]string{"affinity", "move", "a", ""}, "affinity move: empty backend ID"},
		{[]string{"affinity", "flush", ""}, "affinity flush: empty user name"},
		{[]string{"affinity", "show", "a\x1b[2J"}, "printable UTF-8"},
		{[]string{"affinity", "show", "a\xff"}, "printable UTF-8"},
		{[]string{"affinity", "show", "a", "--protocol", "IMAP"}, "--protocol: want a lower-case protocol name"},
		{[]string{"affinity", "show", "a", "--why", "x"}, "affinity: flag --why does not apply"},
	} {
		code, _, stderr := backline(t, append([]string{"ctl", "--api", f.URL}, c.args...)...)
		if code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("ctl %q: exit %d, stderr %q; want exit 2 and %q", c.args, code, stderr, c.want)
		}
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests sent for bad command lines", n)
	}
}

func TestCtlExplainShowsAffinity(t *testing.T) {
	f := newFakeCtlAPI(t, 200, `{"status":"ok","backend":{"id":"mbox02","host":"10.0.0.2","port":143},
	 "selected_by":"policy:sticky","candidates":[],"affinity":{"stored":"mbox01","used":false,
	 "reason":"stored backend mbox01 is not eligible; re-chosen by user_hash (a login would store it)"}}`)
	code, stdout, stderr := backline(t, "ctl", "--api", f.URL, "explain", "alice")
	if code != exitOK || !strings.Contains(stdout, "affinity: stored mbox01, not used (stored backend mbox01 is not eligible") {
		t.Errorf("exit %d\n%s%s", code, stdout, stderr)
	}
}
