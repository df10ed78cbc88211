package server

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/backline/backline/internal/config"
)

type countingReloader struct{ n atomic.Int64 }

func (c *countingReloader) Reload() ReloadResult { c.n.Add(1); return ReloadResult{Generation: 2} }

// A browser that has the API's Basic credentials (the operator opened the
// status page) re-sends them with any request to the API, also one that
// another site's page makes: a form or no-cors fetch POST needs no
// preflight. Such cross-site requests must not reload, explain or log
// in; ctl, curl, nginx and Dovecot send neither Origin nor Sec-Fetch-Site
// and are unaffected, as is the status page's own same-origin call.
func TestCrossSiteBrowserRequestsAreRefused(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		rl := &countingReloader{}
		opts := Options{Logger: slog.New(slog.DiscardHandler), APIAuth: config.APIAuth{Username: "ops", Password: "pw"},
			Reloader: rl}
		var h http.Handler
		if legacy {
			h = New(opts).Handler()
		} else {
			rt := &swapRouter{}
			opts.Router = rt
			s := New(opts)
			routes, err := s.Routes(opts.APIAuth, nil)
			if err != nil {
				t.Fatal(err)
			}
			rt.set(routes)
			h = s.Handler()
		}
		post := func(hdr map[string]string) int {
			r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:9080/api/v1/reload", nil)
			r.SetBasicAuth("ops", "pw")
			for k, v := range hdr {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			return w.Code
		}
		if code := post(map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}); code != http.StatusForbidden {
			t.Errorf("legacy=%v: cross-site POST: %d, want 403", legacy, code)
		}
		if code := post(map[string]string{"Origin": "https://evil.example"}); code != http.StatusForbidden {
			t.Errorf("legacy=%v: POST with a foreign Origin: %d, want 403", legacy, code)
		}
		if n := rl.n.Load(); n != 0 {
			t.Errorf("legacy=%v: %d cross-site reloads ran", legacy, n)
		}
		if code := post(nil); code != http.StatusOK {
			t.Errorf("legacy=%v: POST without browser headers (ctl, curl): %d, want 200", legacy, code)
		}
		if code := post(map[string]string{"Origin": "http://127.0.0.1:9080", "Sec-Fetch-Site": "same-origin"}); code != http.StatusOK {
			t.Errorf("legacy=%v: same-origin POST (status page): %d, want 200", legacy, code)
		}
	}
}
