package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// recipeOrigin is an in-process API service: /healthz answers 200 or 503
// as the test sets it; /v1/... answers "<name> <path>" and is counted.
type recipeOrigin struct {
	name    string
	healthy atomic.Bool
	mu      sync.Mutex
	paths   []string
	srv     *httptest.Server
}

func newRecipeOrigin(t *testing.T, name string) *recipeOrigin {
	o := &recipeOrigin{name: name}
	o.healthy.Store(true)
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			if !o.healthy.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			return
		}
		o.mu.Lock()
		o.paths = append(o.paths, r.URL.Path)
		o.mu.Unlock()
		fmt.Fprintf(w, "%s %s", o.name, r.URL.Path)
	}))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *recipeOrigin) requests() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.paths)
}

// TestRecipeAPIGateway runs docs/recipes/api-gateway.md: its backline.yml
// with the origins' and listeners' addresses changed, two in-process
// origins for the catalog and accounts services.
func TestRecipeAPIGateway(t *testing.T) {
	catalog, accounts := newRecipeOrigin(t, "catalog"), newRecipeOrigin(t, "accounts")
	dir := t.TempDir()
	apiAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	gwAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := recipeSubst(t, recipeBlock(t, "api-gateway.md", "backline.yml"),
		"127.0.0.1:9080", apiAddr,
		"0.0.0.0:8080", gwAddr,
		"http://10.0.0.21:8000", catalog.srv.URL,
		"http://10.0.0.22:8000", accounts.srv.URL,
	)
	serveBackline(t, buildBackline(t), dir, apiAddr, "", "", cfg)
	client := &http.Client{Timeout: 10 * time.Second}
	t.Cleanup(client.CloseIdleConnections)
	get := func(path string) (int, string, string) {
		t.Helper()
		resp, err := client.Get("http://" + gwAddr + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header.Get("Backline-Error"), string(body)
	}
	expectOK := func(path, want string) {
		t.Helper()
		if code, _, body := get(path); code != http.StatusOK || body != want {
			t.Fatalf("GET %s: %d %q, want 200 %q", path, code, body, want)
		}
	}
	expectError := func(path string, status int, errType string) {
		t.Helper()
		code, hdr, body := get(path)
		var v struct {
			Error struct {
				Type   string `json:"type"`
				Status int    `json:"status"`
			} `json:"error"`
		}
		if code != status || hdr != errType || json.Unmarshal([]byte(body), &v) != nil || v.Error.Type != errType || v.Error.Status != status {
			t.Fatalf("GET %s: %d Backline-Error %q %s, want %d %s", path, code, hdr, body, status, errType)
		}
	}

	t.Run("requests flow to both services", func(t *testing.T) {
		expectOK("/catalog/items/7", "catalog /v1/items/7")
		expectOK("/accounts/alice", "accounts /v1/alice")
		expectError("/nowhere", http.StatusNotFound, "route_not_found")
	})
	t.Run("failing health check takes accounts out", func(t *testing.T) {
		accounts.healthy.Store(false)
		waitGateway(t, func() bool { code, _, _ := get("/accounts/alice"); return code == http.StatusBadGateway })
		before := accounts.requests()
		expectError("/accounts/alice", http.StatusBadGateway, "backend_unhealthy")
		if n := accounts.requests() - before; n != 0 {
			t.Errorf("accounts got %d requests while taken out", n)
		}
		expectOK("/catalog/items/8", "catalog /v1/items/8")
		accounts.healthy.Store(true)
		waitGateway(t, func() bool { code, _, _ := get("/accounts/alice"); return code == http.StatusOK })
		expectOK("/accounts/bob", "accounts /v1/bob")
	})
	t.Run("the throttle answers 429 after per_period requests", func(t *testing.T) {
		// The recipe allows 5 catalog requests a minute (fixed window, from
		// the first one); the subtests above used 2.
		for i := catalog.requests(); i < 5; i++ {
			expectOK(fmt.Sprintf("/catalog/items/%d", i), fmt.Sprintf("catalog /v1/items/%d", i))
		}
		for i := 0; i < 3; i++ {
			expectError("/catalog/items/1", http.StatusTooManyRequests, "backend_throttle_exceeded")
		}
		if n := catalog.requests(); n != 5 {
			t.Errorf("the catalog origin got %d requests, want exactly per_period = 5", n)
		}
		// The throttle is per backend: accounts is not limited.
		for i := 0; i < 6; i++ {
			expectOK("/accounts/carol", "accounts /v1/carol")
		}
	})
}

// waitGateway polls cond (bounded: the recipe's health checks take
// failure_threshold x interval = 4 s to decide).
func waitGateway(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the gateway did not change its answer within 15 s")
		}
	}
}
