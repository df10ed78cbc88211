package server

import (
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/backline/backline/internal/config"
)

type countingReloader struct{ n atomic.Int32 }

func (c *countingReloader) Reload() ReloadResult { c.n.Add(1); return ReloadResult{Generation: 2} }

// TestCrossSiteChangesRefused: a browser holding the operator's Basic
// credentials (from viewing the status page) must not let another site
// reload the daemon or change a backend; nginx, Dovecot, curl and ctl send
// neither Sec-Fetch-Site nor Origin and get through, as do same-origin pages.
func TestCrossSiteChangesRefused(t *testing.T) {
	for _, auth := range []config.APIAuth{{}, {Username: "ops", Password: "pw"}} {
		reloader := &countingReloader{}
		s := New(Options{Logger: slog.New(slog.DiscardHandler), APIAuth: auth, Reloader: reloader,
			Snapshot: fixedSource{testSnapshot()}})
		basic := func(extra func(*http.Request)) func(*http.Request) {
			return func(r *http.Request) {
				if auth.Username != "" {
					r.SetBasicAuth("ops", "pw")
				}
				if extra != nil {
					extra(r)
				}
			}
		}
		cases := []struct {
			name   string
			method string
			header map[string]string
			want   int
		}{
			{"cross-site fetch", "POST", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
			{"same-site other origin", "POST", map[string]string{"Sec-Fetch-Site": "same-site"}, 403},
			{"foreign Origin", "POST", map[string]string{"Origin": "http://evil.example"}, 403},
			{"same-origin page", "POST", map[string]string{"Sec-Fetch-Site": "same-origin"}, 200},
			{"non-browser client", "POST", nil, 200},
			{"cross-site GET is only a read", "GET", map[string]string{"Sec-Fetch-Site": "cross-site"}, 405},
		}
		for _, c := range cases {
			before := reloader.n.Load()
			got := do(t, s.Handler(), c.method, "/api/v1/reload", basic(func(r *http.Request) {
				for k, v := range c.header {
					r.Header.Set(k, v)
				}
			}))
			if got.status != c.want {
				t.Errorf("auth %v, %s: status %d, want %d (%s)", auth.Username != "", c.name, got.status, c.want, got.body)
			}
			if called := reloader.n.Load() != before; called != (c.want == 200) {
				t.Errorf("auth %v, %s: reloader called = %v", auth.Username != "", c.name, called)
			}
		}
		got := do(t, s.Handler(), "PUT", "/api/v1/backends/x/admin", basic(func(r *http.Request) {
			r.Header.Set("Sec-Fetch-Site", "cross-site")
		}))
		if got.status != 403 {
			t.Errorf("cross-site admin PUT: %d %s", got.status, got.body)
		}
	}
}
