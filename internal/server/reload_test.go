package server

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
)

// swapRouter is a Router whose routes a test replaces; it counts the
// requests holding each set.
type swapRouter struct {
	mu    sync.Mutex
	cur   http.Handler
	holds int
}

func (r *swapRouter) Routes() (http.Handler, func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.holds++
	return r.cur, func() { r.mu.Lock(); r.holds--; r.mu.Unlock() }
}

func (r *swapRouter) set(h http.Handler) { r.mu.Lock(); r.cur = h; r.mu.Unlock() }

func textMount(path, text string) Mount {
	return mountFunc(func(mux *http.ServeMux) {
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(text)) })
	})
}

type fakeReloader struct{ res ReloadResult }

func (f fakeReloader) Reload() ReloadResult { return f.res }

// A Router swaps mounts and API credentials between requests; each request
// releases what it held.
func TestRouterSwapsRoutesAndCredentials(t *testing.T) {
	router := &swapRouter{}
	s := New(Options{Snapshot: fixedSource{testSnapshot()}, Logger: slog.New(slog.DiscardHandler), Router: router})
	first, err := s.Routes(config.APIAuth{}, []Mount{textMount("/x", "one")})
	if err != nil {
		t.Fatal(err)
	}
	router.set(first)
	if got := do(t, s.Handler(), "GET", "/x", nil); got.status != 200 || got.body != "one" {
		t.Fatalf("first routes: %d %q", got.status, got.body)
	}
	second, err := s.Routes(config.APIAuth{Username: "ops", Password: "pw"}, []Mount{textMount("/y", "two")})
	if err != nil {
		t.Fatal(err)
	}
	router.set(second)
	basic := func(r *http.Request) { r.SetBasicAuth("ops", "pw") }
	if got := do(t, s.Handler(), "GET", "/y", nil); got.status != 401 {
		t.Errorf("new credentials not applied: %d", got.status)
	}
	if got := do(t, s.Handler(), "GET", "/y", basic); got.status != 200 || got.body != "two" {
		t.Errorf("second routes: %d %q", got.status, got.body)
	}
	if got := do(t, s.Handler(), "GET", "/x", basic); got.status != 404 {
		t.Errorf("removed route: %d", got.status)
	}
	if got := do(t, s.Handler(), "GET", "/healthz", nil); got.status != 200 {
		t.Errorf("built-in route: %d", got.status)
	}
	if router.holds != 0 {
		t.Errorf("%d routes still held after the requests", router.holds)
	}
}

// Unreadable credentials refuse the new routes instead of serving a set
// that locks everyone out.
func TestRoutesRefusesUnreadableCredentials(t *testing.T) {
	s := New(Options{Logger: slog.New(slog.DiscardHandler), Router: &swapRouter{}})
	_, err := s.Routes(config.APIAuth{Username: "ops", PasswordFile: t.TempDir() + "/missing"}, nil)
	if err == nil || !strings.Contains(err.Error(), "server.api_auth.password_file") {
		t.Errorf("err = %v", err)
	}
}

func TestReloadEndpoint(t *testing.T) {
	cases := []struct {
		name   string
		res    ReloadResult
		status int
		want   reloadBody
	}{
		{"ok", ReloadResult{Generation: 3, Duration: 12 * time.Millisecond}, 200,
			reloadBody{Status: "ok", Generation: 3, DurationMS: 12}},
		{"failed", ReloadResult{Generation: 2, Errors: []string{"auth.nginx.policy (line 12): bad"}}, 422,
			reloadBody{Status: "failed", Generation: 2, Errors: []string{"auth.nginx.policy (line 12): bad"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := New(Options{Logger: slog.New(slog.DiscardHandler), APIAuth: config.APIAuth{Username: "ops", Password: "pw"},
				Reloader: fakeReloader{c.res}})
			if got := do(t, s.Handler(), "POST", "/api/v1/reload", nil); got.status != 401 {
				t.Errorf("without credentials: %d", got.status)
			}
			basic := func(r *http.Request) { r.SetBasicAuth("ops", "pw") }
			if got := do(t, s.Handler(), "GET", "/api/v1/reload", basic); got.status != 405 {
				t.Errorf("GET: %d", got.status)
			}
			got := do(t, s.Handler(), "POST", "/api/v1/reload", basic)
			var body reloadBody
			if err := json.Unmarshal([]byte(got.body), &body); err != nil {
				t.Fatal(err)
			}
			if got.status != c.status || body.Status != c.want.Status || body.Generation != c.want.Generation ||
				body.DurationMS != c.want.DurationMS || strings.Join(body.Errors, "|") != strings.Join(c.want.Errors, "|") {
				t.Errorf("got %d %+v, want %d %+v", got.status, body, c.status, c.want)
			}
		})
	}
}

// Without a Reloader the route does not exist.
func TestNoReloadWithoutReloader(t *testing.T) {
	s := New(Options{Logger: slog.New(slog.DiscardHandler)})
	if got := do(t, s.Handler(), "POST", "/api/v1/reload", nil); got.status != 404 {
		t.Errorf("status %d", got.status)
	}
}
