package auth

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/backline/backline/internal/config"
)

// TestRequestLogLine: the line written past slog's Logger carries what it
// did (message, level, the request's fields), and at log_level warn it is
// not written at all.
func TestRequestLogLine(t *testing.T) {
	env := newEnv(t, nil)
	env.do(nginxRequest(testUser, testPassword, "imap", "1"))
	logs := env.logs.String()
	for _, want := range []string{`level=INFO msg="auth request"`, "endpoint=nginx", "outcome=ok", "user=" + testUser, "protocol=imap", "cache_hit=false", "latency="} {
		if !strings.Contains(logs, want) {
			t.Errorf("log line lacks %q:\n%s", want, logs)
		}
	}

	quietLogs := &syncBuffer{}
	quiet := newEnv(t, func(_ *config.Config, o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(quietLogs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	})
	if w := quiet.do(nginxRequest(testUser, testPassword, "imap", "1")); w.Header().Get("Auth-Status") != "OK" {
		t.Fatalf("answer %v", w.Header())
	}
	if strings.Contains(quietLogs.String(), "auth request") {
		t.Errorf("request line written at log level warn:\n%s", quietLogs)
	}
}
