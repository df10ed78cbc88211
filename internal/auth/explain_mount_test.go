package auth_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/backline/backline/internal/auth"
	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/server"
)

// TestExplainIsBehindAPIAuth: explain is mounted like the auth endpoints,
// so server.api_auth guards it.
func TestExplainIsBehindAPIAuth(t *testing.T) {
	h, err := auth.New(auth.Options{Config: &config.Config{}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	s := server.New(server.Options{
		Address: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler),
		APIAuth: config.APIAuth{Username: "ops", Password: "api-pass"},
		Mounts:  []server.Mount{h},
	})
	explain := func(user, pass string) int {
		r := httptest.NewRequest(http.MethodPost, "/api/v1/explain", strings.NewReader(`{"username":"alice","protocol":"imap"}`))
		if user != "" {
			r.SetBasicAuth(user, pass)
		}
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, r)
		return w.Code
	}
	if code := explain("", ""); code != http.StatusUnauthorized {
		t.Errorf("without credentials: %d, want 401", code)
	}
	if code := explain("ops", "wrong"); code != http.StatusUnauthorized {
		t.Errorf("wrong password: %d, want 401", code)
	}
	if code := explain("ops", "api-pass"); code != http.StatusOK {
		t.Errorf("with credentials: %d, want 200", code)
	}
}
