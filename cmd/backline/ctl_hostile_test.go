package main

import (
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

// Broken or hostile answers end in exit 1 with a short, clean message, and
// never show the password.
func TestCtlHostileAnswers(t *testing.T) {
	pwFile := writeFile(t, "pw", "Very-Secret-9\n")
	basic := base64.StdEncoding.EncodeToString([]byte("ops:Very-Secret-9"))
	for _, c := range []struct {
		name    string
		args    []string
		handler http.HandlerFunc
		want    string
	}{
		{"500 HTML", []string{"list"}, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(500)
			_, _ = io.WriteString(w, "<html><body>\n<h1>Internal\tServer Error</h1>\x1b[2J</body></html>")
		}, `GET /api/v1/backends: 500 Internal Server Error (not the API's JSON: <html><body> <h1>Internal Server Error</h1>\x1b[2J</body></html>)`},
		{"502 empty", []string{"show", "x"}, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(502)
		}, "GET /api/v1/backends/x: 502 Bad Gateway\n"},
		{"huge body", []string{"show", "x"}, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(200)
			_, _ = io.WriteString(w, `{"id":"`)
			chunk := strings.Repeat("a", 64<<10)
			for range 40 { // 2.5 MiB; ctl stops reading after 1 MiB
				if _, err := io.WriteString(w, chunk); err != nil {
					return
				}
			}
		}, "the answer is larger than 1024 KiB"},
		{"huge list", []string{"list"}, func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{"backends":[`)
			chunk := strings.Repeat(" ", 1<<20)
			for range 20 {
				if _, err := io.WriteString(w, chunk); err != nil {
					return
				}
			}
		}, "the answer is larger than 16384 KiB"},
		{"invalid JSON", []string{"drain", "x"}, func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{"state": "drain"`)
		}, `PUT /api/v1/backends/x/admin: 200 with a body that is not JSON: {"state": "drain"`},
		{"wrong JSON type", []string{"list"}, func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{"backends": "none"}`)
		}, "unexpected JSON"},
		{"echoes credentials", []string{"drain", "x"}, func(w http.ResponseWriter, r *http.Request) {
			_, pw, _ := r.BasicAuth()
			w.WriteHeader(400)
			_, _ = io.WriteString(w, `{"error":"bad auth `+pw+` header `+r.Header.Get("Authorization")+`"}`)
		}, "400 bad auth <redacted> header Basic <redacted>"},
		{"401", []string{"list"}, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(401)
			_, _ = io.WriteString(w, `{"error":"authentication required"}`)
		}, "401 authentication required (give credentials"},
		{"redirect elsewhere", []string{"list"}, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://192.0.2.1/steal", http.StatusFound)
		}, "302 Found"},
		{"escape sequences in a message", []string{"reload"}, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(422)
			_, _ = io.WriteString(w, `{"status":"failed","errors":["x (line 1): \u001b]0;pwned\u0007"]}`)
		}, `  x (line 1): \x1b]0;pwned\x07`},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeCtlAPI(t, 0, "")
			f.handler = c.handler
			// --timeout 2m: the limits under test are sizes, and the huge
			// answers (16 MiB and more, in this -race process) took longer
			// than the default 10 s on a loaded machine.
			args := append([]string{"ctl", "--api", f.URL, "--api-user", "ops", "--password-file", pwFile, "--timeout", "2m"}, c.args...)
			code, stdout, stderr := backline(t, args...)
			if code != exitFail {
				t.Errorf("exit %d, want 1", code)
			}
			if !strings.Contains(stderr, c.want) {
				t.Errorf("stderr lacks %q:\n%s", c.want, stderr)
			}
			if strings.ContainsAny(stdout+stderr, "\x1b\x07") {
				t.Errorf("raw control bytes reach the terminal: %q", stderr)
			}
			if strings.Contains(stdout+stderr, "Very-Secret-9") || strings.Contains(stdout+stderr, basic) {
				t.Errorf("output shows the password:\n%s\n%s", stdout, stderr)
			}
		})
	}
}

// Escape sequences in backend data are shown, not run, in every table.
func TestCtlCleansTables(t *testing.T) {
	f := newFakeCtlAPI(t, 200, `{"backends":[{"id":"evil\u001b[2Jid","group":"g\nx","protocol":"imap","host":"h","port":1,
	 "healthy":true,"eligible":false,"reason":"dr\u0007ain"}]}`)
	code, stdout, _ := backline(t, "ctl", "--api", f.URL, "list")
	if code != exitOK || strings.ContainsAny(stdout, "\x1b\x07") || !strings.Contains(stdout, `evil\x1b[2Jid`) ||
		!strings.Contains(stdout, "g x") {
		t.Errorf("exit %d\n%q", code, stdout)
	}
}

// --json passes the answer through, but not invalid UTF-8 in it.
func TestCtlJSONCleaned(t *testing.T) {
	f := newFakeCtlAPI(t, 200, "{\"id\":\"a\x9b31mb\",\"x\":\"\\u001b\"}")
	code, stdout, _ := backline(t, "ctl", "--api", f.URL, "--json", "show", "a")
	if code != exitOK || strings.Contains(stdout, "\x9b") || strings.Contains(stdout, "\x1b") || !strings.Contains(stdout, `"a?31mb"`) {
		t.Errorf("exit %d %q", code, stdout)
	}
}

// A server that never answers is given up on after --timeout.
func TestCtlTimeout(t *testing.T) {
	f := newFakeCtlAPI(t, 0, "")
	release := make(chan struct{})
	f.handler = func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}
	defer close(release)
	code, _, stderr := backline(t, "ctl", "--api", f.URL, "--timeout", "200ms", "list")
	if code != exitFail || !strings.Contains(stderr, "no answer within 200ms (--timeout)") {
		t.Errorf("exit %d: %s", code, stderr)
	}

	// Headers at once, then a body that never ends: the limit covers the
	// whole answer, not just its start.
	f = newFakeCtlAPI(t, 0, "")
	f.handler = func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"backends":[`)
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}
	code, _, stderr = backline(t, "ctl", "--api", f.URL, "--timeout", "200ms", "list")
	if code != exitFail || !strings.Contains(stderr, "no answer within 200ms (--timeout)") {
		t.Errorf("trickling body: exit %d: %s", code, stderr)
	}
}

// Nothing listening: exit 1 with a hint where the daemon was looked for.
func TestCtlNoDaemon(t *testing.T) {
	f := newFakeCtlAPI(t, 200, "{}")
	url := f.URL
	f.Close()
	code, _, stderr := backline(t, "ctl", "--api", url, "list")
	if code != exitFail || !strings.Contains(stderr, "is the daemon running?") || !strings.Contains(stderr, url) {
		t.Errorf("exit %d: %s", code, stderr)
	}
}

// Whatever the daemon sends, what ctl prints from it holds no control
// characters and stays one line.
func FuzzCtlClean(f *testing.F) {
	for _, s := range []string{"", "plain", "a\x1b[2Jb", "\x07\x00\x7f", "\xc2\x9b31m", "\xff\xfe", "ü\u202e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, out := range []string{ctlCell(s), ctlSnippet([]byte(s))} {
			if strings.ContainsFunc(out, ctlIsControl) || strings.Contains(out, "\n") || !utf8.ValidString(out) {
				t.Fatalf("%q -> %q", s, out)
			}
		}
	})
}
