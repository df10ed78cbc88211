package server

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
)

// Config refuses an empty API password, but Options can be built without
// it (demo, tests, embedding): the server must fail closed on its own, so
// `curl -u ops:` never gets in.
func TestAPIAuthEmptySecretFailsClosed(t *testing.T) {
	for name, auth := range map[string]config.APIAuth{
		"empty password": {Username: "ops"},
		"blank password": {Username: "ops", Password: "  "},
		"blank token":    {BearerToken: " \t"},
	} {
		t.Run(name, func(t *testing.T) {
			s := newTestServer(t, auth)
			for _, path := range []string{"/api/v1/backends", "/", "/metrics"} {
				got := do(t, s.Handler(), "GET", path, func(r *http.Request) { r.SetBasicAuth("ops", "") })
				if got.status != http.StatusServiceUnavailable {
					t.Errorf("%s: status %d, want 503: %s", path, got.status, got.body)
				}
			}
			got := do(t, s.Handler(), "GET", "/api/v1/backends", func(r *http.Request) {
				r.Header.Set("Authorization", "Bearer ")
			})
			if got.status == http.StatusOK {
				t.Errorf("empty bearer token got in")
			}
			if got := do(t, s.Handler(), "GET", "/healthz", nil); got.status != http.StatusOK {
				t.Errorf("/healthz: status %d, want 200 (liveness stays public)", got.status)
			}
			// On failure Serve would serve until the context ends: bound it.
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			defer cancel()
			err := s.Serve(ctx)
			if err == nil || !strings.Contains(err.Error(), "server.api_auth.") || !strings.Contains(err.Error(), "empty") {
				t.Errorf("Serve: %v", err)
			}
		})
	}
}
