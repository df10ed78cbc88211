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
// origins for the API.
func TestRecipeAPIGateway(t *testing.T) {
	one, two := newRecipeOrigin(t, "one"), newRecipeOrigin(t, "two")
	dir := t.TempDir()
	apiAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	gwAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := recipeSubst(t, recipeBlock(t, "api-gateway.md", "backline.yml"),
		"127.0.0.1:9080", apiAddr,
		"0.0.0.0:8080", gwAddr,
		"http://10.0.0.21:8000", one.srv.URL,
		"http://10.0.0.22:8000", two.srv.URL,
	)
	bl := serveBackline(t, buildBackline(t), dir, apiAddr, "", "", cfg)
	idOne, idTwo := "gateway:api@"+one.srv.URL, "gateway:api@"+two.srv.URL
	bl.waitHealthy(idOne, idTwo)
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
	// send makes n requests that must all succeed and returns how many
	// each origin got.
	send := func(n int) (int, int) {
		t.Helper()
		b1, b2 := one.requests(), two.requests()
		for i := 0; i < n; i++ {
			code, _, body := get(fmt.Sprintf("/api/items/%d", i))
			if code != http.StatusOK || (body != fmt.Sprintf("one /v1/items/%d", i) && body != fmt.Sprintf("two /v1/items/%d", i)) {
				t.Fatalf("GET /api/items/%d: %d %q", i, code, body)
			}
		}
		return one.requests() - b1, two.requests() - b2
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

	t.Run("requests take turns on both origins", func(t *testing.T) {
		if n1, n2 := send(4); n1 != 2 || n2 != 2 {
			t.Errorf("round robin over 4 requests: %d and %d, want 2 and 2", n1, n2)
		}
		expectError("/nowhere", http.StatusNotFound, "route_not_found")
	})
	t.Run("an origin failing its health check is taken out", func(t *testing.T) {
		two.healthy.Store(false)
		waitEligible(t, bl, idTwo, false)
		if n1, n2 := send(4); n1 != 4 || n2 != 0 {
			t.Errorf("with origin two out: %d and %d requests, want 4 and 0", n1, n2)
		}
		two.healthy.Store(true)
		bl.waitHealthy(idTwo)
		if n1, n2 := send(4); n1 != 2 || n2 != 2 {
			t.Errorf("with origin two back: %d and %d requests, want 2 and 2", n1, n2)
		}
	})
	t.Run("the throttle answers 429 after per_period requests", func(t *testing.T) {
		// 20 requests a minute (fixed window from the first one); the
		// subtests above used 12.
		send(20 - one.requests() - two.requests())
		for i := 0; i < 3; i++ {
			expectError("/api/items/1", http.StatusTooManyRequests, "backend_throttle_exceeded")
		}
		if n := one.requests() + two.requests(); n != 20 {
			t.Errorf("the origins got %d requests, want exactly per_period = 20", n)
		}
	})
}

// waitEligible waits (bounded: the recipe's checks take failure_threshold
// x interval = 4 s to decide) until /api/v1/backends shows id with the
// given eligibility.
func waitEligible(t *testing.T, s *servedBackline, id string, want bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, body := s.api(http.MethodGet, "/api/v1/backends", "")
		var v struct {
			Backends []backendState `json:"backends"`
		}
		if code == http.StatusOK && json.Unmarshal([]byte(body), &v) == nil {
			for _, b := range v.Backends {
				if b.ID == id && b.Eligible == want {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not eligible=%v within 15 s: %d %s", id, want, code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
