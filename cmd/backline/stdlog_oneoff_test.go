package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/testutil"
)

// What net/http logs with the standard logger while a one-off command
// runs (here: while the command waits for its server's answer) reaches
// the command's stderr through the header redaction, as under serve, not
// the process's stderr as written.
func TestOneOffCommandsLogLibraryMessagesRedacted(t *testing.T) {
	for _, tc := range []struct {
		name string
		args func(srv string) []string
	}{
		{"ctl", func(srv string) []string { return []string{"ctl", "--api", srv, "list"} }},
		{"probe", func(srv string) []string {
			u, _ := url.Parse(srv)
			return []string{"probe", "--protocol", "http", "--deep", "--host", u.Hostname(), "--port", u.Port()}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr syncBuffer
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				testutil.ProvokeUnsolicitedAnswer(t, "HTTP/1.1 200 OK\r\nSet-Cookie: sid=SECRET-1\r\nContent-Length: 8\r\n\r\nSECRET-2")
				// Answer once the message was logged, so it is logged
				// while the command runs. The bound only keeps a broken
				// build from hanging; the check below then fails.
				for range 200 {
					if strings.Contains(stderr.String(), "Unsolicited response") {
						break
					}
					time.Sleep(50 * time.Millisecond)
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"round":1,"backends":[]}`))
			}))
			defer srv.Close()
			code := dispatch(context.Background(), tc.args(srv.URL), &stdout, &stderr)
			logs := stderr.String()
			if code != exitOK {
				t.Errorf("exit %d\n%s", code, logs)
			}
			if !strings.Contains(logs, "Unsolicited response") || !strings.Contains(logs, `Set-Cookie: <redacted>`) {
				t.Errorf("net/http's message is not on the command's stderr, redacted:\n%s", logs)
			}
			if strings.Contains(logs+stdout.String(), "SECRET") {
				t.Errorf("a secret in the output:\n%s\n%s", logs, stdout.String())
			}
		})
	}
}
