package auth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/state"
)

func affinityAPIEnv(t *testing.T) (*http.ServeMux, *state.MemoryAffinityStore, *recordingStore) {
	t.Helper()
	mem := state.NewMemoryAffinityStore(0, nil)
	rec := &recordingStore{inner: mem}
	env := newEnv(t, nil)
	cfg := &config.Config{}
	mux := http.NewServeMux()
	NewAffinityAPI(rec, cfg, env.health).Register(mux)
	return mux, mem, rec
}

func apiDo(mux *http.ServeMux, method, target, body string) *httptest.ResponseRecorder {
	var r *http.Request
	if body != "" {
		r = httptest.NewRequest(method, target, strings.NewReader(body))
	} else {
		r = httptest.NewRequest(method, target, nil)
	}
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	return w
}

func TestAffinityAPIShowMoveFlush(t *testing.T) {
	mux, mem, _ := affinityAPIEnv(t)
	if w := apiDo(mux, "GET", "/api/v1/affinity/alice", ""); w.Code != 200 || !strings.Contains(w.Body.String(), `"entries": []`) {
		t.Fatalf("empty show: %d %s", w.Code, w.Body)
	}
	w := apiDo(mux, "PUT", "/api/v1/affinity/alice?protocol=imaps", `{"backend":"imap-b"}`)
	if w.Code != 200 {
		t.Fatalf("move: %d %s", w.Code, w.Body)
	}
	if b, _, _ := mem.Get(context.Background(), state.AffinityKey{User: "alice", Protocol: "imap"}, 0); b != "imap-b" {
		t.Fatalf("stored %q", b)
	}
	if err := mem.Set(context.Background(), state.AffinityKey{User: "alice", Protocol: "pop3"}, "pop3-a", time.Hour); err != nil {
		t.Fatal(err)
	}
	w = apiDo(mux, "GET", "/api/v1/affinity/Alice", "")
	var ans affinityAnswer
	if err := json.Unmarshal(w.Body.Bytes(), &ans); err != nil || len(ans.Entries) != 2 ||
		ans.Entries[0] != (AffinityEntry{"imap", "imap-b"}) || ans.Entries[1] != (AffinityEntry{"pop3", "pop3-a"}) {
		t.Fatalf("show: %d %s", w.Code, w.Body)
	}
	if w := apiDo(mux, "DELETE", "/api/v1/affinity/alice?protocol=pop3", ""); w.Code != 200 {
		t.Fatalf("flush pop3: %d %s", w.Code, w.Body)
	}
	if _, ok, _ := mem.Get(context.Background(), state.AffinityKey{User: "alice", Protocol: "imap"}, 0); !ok {
		t.Error("flushing pop3 removed imap")
	}
	if w := apiDo(mux, "DELETE", "/api/v1/affinity/alice", ""); w.Code != 200 {
		t.Fatalf("flush: %d %s", w.Code, w.Body)
	}
	if mem.Len() != 0 {
		t.Errorf("%d entries after flushing all", mem.Len())
	}
	// A user name with a slash or spaces, escaped in the path.
	if w := apiDo(mux, "PUT", "/api/v1/affinity/a%2Fb%20c", `{"backend":"pop3-a"}`); w.Code != 200 {
		t.Errorf("escaped name: %d %s", w.Code, w.Body)
	}
	if _, ok, _ := mem.Get(context.Background(), state.AffinityKey{User: "a/b c", Protocol: "pop3"}, 0); !ok {
		t.Error("escaped name not stored under its decoded form")
	}
}

func TestAffinityAPIHostileInput(t *testing.T) {
	mux, mem, rec := affinityAPIEnv(t)
	long := strings.Repeat("x", state.MaxAffinityUserLen+1)
	for _, c := range []struct {
		method, target, body string
		code                 int
	}{
		{"GET", "/api/v1/affinity/a%00b", "", 400},
		{"GET", "/api/v1/affinity/a%0D%0Ab", "", 400},
		{"GET", "/api/v1/affinity/%FF", "", 400},
		{"GET", "/api/v1/affinity/" + long, "", 400},
		{"GET", "/api/v1/affinity/alice?protocol=IMAP", "", 400},
		{"GET", "/api/v1/affinity/alice?protocol=imap&protocol=pop3", "", 400},
		{"GET", "/api/v1/affinity/alice?proto=imap", "", 400},
		{"PUT", "/api/v1/affinity/alice", "", 400},
		{"PUT", "/api/v1/affinity/alice", `{}`, 400},
		{"PUT", "/api/v1/affinity/alice", `{"backend":""}`, 400},
		{"PUT", "/api/v1/affinity/alice", `{"backend":"imap-a","ttl":5}`, 400},
		{"PUT", "/api/v1/affinity/alice", `{"backend":"imap-a","backend":"imap-b"}`, 400},
		{"PUT", "/api/v1/affinity/alice", `{"backend":"imap-a","Backend":"imap-b"}`, 400},
		{"PUT", "/api/v1/affinity/alice", `{"backend":"imap-a"} {}`, 400},
		{"PUT", "/api/v1/affinity/alice", `{"backend":"imap-a"`, 400},
		{"PUT", "/api/v1/affinity/alice", `{"backend":"a\u0000b"}`, 400},
		{"PUT", "/api/v1/affinity/alice", `{"backend":"` + strings.Repeat("b", 4000) + `"}`, 400},
		{"PUT", "/api/v1/affinity/alice", `["imap-a"]`, 400},
		{"PUT", "/api/v1/affinity/alice", `{"backend":"nope"}`, 404},
		{"PUT", "/api/v1/affinity/alice?protocol=pop3", `{"backend":"imap-a"}`, 400},
		{"DELETE", "/api/v1/affinity/a%00", "", 400},
	} {
		w := apiDo(mux, c.method, c.target, c.body)
		if w.Code != c.code || !strings.Contains(w.Body.String(), `"error"`) {
			t.Errorf("%s %.60s %.40q: %d %s, want %d", c.method, c.target, c.body, w.Code, w.Body, c.code)
		}
		if strings.ContainsAny(w.Body.String(), "\x00\r") {
			t.Errorf("%s %.60s: control characters in the answer", c.method, c.target)
		}
	}
	if sets, _ := rec.writes(); len(sets) != 0 || mem.Len() != 0 {
		t.Errorf("refused requests wrote: %v", sets)
	}
	// Store down: 503, not a crash.
	rec.down = true
	if w := apiDo(mux, "GET", "/api/v1/affinity/alice?protocol=imap", ""); w.Code != 503 {
		t.Errorf("store down: %d %s", w.Code, w.Body)
	}
}
