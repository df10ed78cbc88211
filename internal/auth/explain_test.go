package auth

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/backline/backline/internal/config"
)

func explainRequestFor(body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/api/v1/explain", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return r
}

func (e *testEnv) explain(body string) (explainAnswer, *httptest.ResponseRecorder) {
	e.t.Helper()
	w := e.do(explainRequestFor(body))
	var ans explainAnswer
	if w.Code == 200 {
		if err := json.Unmarshal(w.Body.Bytes(), &ans); err != nil {
			e.t.Fatalf("explain answer: %v\n%s", err, w.Body.String())
		}
	}
	return ans, w
}

func TestExplainRefusesHostileInput(t *testing.T) {
	env := newEnv(t, nil)
	for name, body := range map[string]string{
		"oversized":       `{"username":"` + strings.Repeat("a", 5000) + `","protocol":"imap"}`,
		"unknown field":   `{"username":"alice","protocol":"imap","password":"x"}`,
		"control chars":   `{"username":"ali\u0000ce","protocol":"imap"}`,
		"newline":         `{"username":"alice\r\nDELE 1","protocol":"imap"}`,
		"bad ip":          `{"username":"alice","protocol":"imap","client_ip":"300.1.1.1"}`,
		"ip with port":    `{"username":"alice","protocol":"imap","client_ip":"192.0.2.1:143"}`,
		"duplicate key":   `{"username":"alice","USERNAME":"bob","protocol":"imap"}`,
		"trailing data":   `{"username":"alice","protocol":"imap"} {}`,
		"empty":           ``,
		"truncated":       `{"username":"alice","proto`,
		"no username":     `{"protocol":"imap"}`,
		"bad protocol":    `{"username":"alice","protocol":"IMAP\n"}`,
		"no protocol":     `{"username":"alice"}`,
		"bad service":     `{"username":"alice","protocol":"imap","service":"basic"}`,
		"port range":      `{"username":"alice","protocol":"imap","local_port":70000}`,
		"port type":       `{"username":"alice","protocol":"imap","local_port":[143]}`,
		"long username":   `{"username":"` + strings.Repeat("a", 1025) + `","protocol":"imap"}`,
		"not an object":   `["alice"]`,
		"username number": `{"username":1,"protocol":"imap"}`,
	} {
		w := env.do(explainRequestFor(body))
		var e struct{ Error string }
		if w.Code != 400 || w.Header().Get("Content-Type") != "application/json" || json.Unmarshal(w.Body.Bytes(), &e) != nil || e.Error == "" {
			t.Errorf("%s: %d %q %s, want 400 with a JSON error", name, w.Code, w.Header().Get("Content-Type"), w.Body.String())
		}
		if strings.ContainsAny(e.Error, "\r\n\x00") {
			t.Errorf("%s: error carries control characters: %q", name, e.Error)
		}
	}
	if w := env.do(httptest.NewRequest(http.MethodGet, "/api/v1/explain", nil)); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET explain: %d", w.Code)
	}
}

func TestExplainAnswer(t *testing.T) {
	env := newEnv(t, nil)
	a := mailBackend("imap-a", "imap", "127.0.0.1", 1143, true)
	b := mailBackend("imap-b", "imap", "127.0.0.2", 2143, true)
	c := mailBackend("imap-c", "imap", "127.0.0.3", 3143, false)
	// Snapshots carry no test passwords (health.TargetInfo); the request's
	// password is never asked for. Neither appears in an explanation.
	env.health.set(drained(a), b, c, mailBackend("pop3-a", "pop3", "127.0.0.1", 1110, true))
	env.health.snap.Round = 42

	ans, w := env.explain(`{"username":"alice","protocol":"imap","client_ip":"192.0.2.1","local_port":143}`)
	if w.Code != 200 {
		t.Fatalf("explain: %d %s", w.Code, w.Body.String())
	}
	if ans.Status != "ok" || ans.Backend == nil || ans.Backend.ID != "imap-b" || ans.Backend.Host != "127.0.0.2" || ans.Backend.Port != 2143 ||
		ans.SelectedBy != "policy:user_hash" || ans.Panic || ans.SnapshotRound != 42 {
		t.Errorf("answer: %+v", ans)
	}
	want := []Candidate{
		{ID: "imap-a", Host: "127.0.0.1", Port: 1143, Eligible: false, Reason: "drain", Weight: 1, Draining: true},
		{ID: "imap-b", Host: "127.0.0.2", Port: 2143, Eligible: true, Weight: 1, Chosen: true},
		{ID: "imap-c", Host: "127.0.0.3", Port: 3143, Eligible: false, Reason: "unhealthy", Weight: 1},
	}
	if len(ans.Candidates) != len(want) {
		t.Fatalf("candidates: %+v", ans.Candidates)
	}
	for i := range want {
		got := ans.Candidates[i]
		got.panicUsable = false
		if got != want[i] {
			t.Errorf("candidate %d: %+v, want %+v", i, got, want[i])
		}
	}
	for _, secret := range []string{testPassword, "password"} {
		if strings.Contains(w.Body.String(), secret) {
			t.Errorf("explain answer contains %q:\n%s", secret, w.Body.String())
		}
	}

	// Nothing eligible: no_backend with the reason.
	env.health.set(drained(a), drained(b), c)
	if ans, _ := env.explain(`{"username":"alice","protocol":"imap"}`); ans.Status != "no_backend" || ans.Backend != nil || !strings.Contains(ans.Reason, "no healthy backend") {
		t.Errorf("nothing eligible: %+v", ans)
	}
	// header/json answer without a backend when none is configured; nginx cannot.
	if ans, _ := env.explain(`{"username":"alice","protocol":"sieve","service":"header"}`); ans.Status != "ok" || ans.Backend != nil {
		t.Errorf("header without sieve targets: %+v", ans)
	}
	if ans, _ := env.explain(`{"username":"alice","protocol":"sieve"}`); ans.Status != "no_backend" {
		t.Errorf("nginx without sieve targets: %+v", ans)
	}
}

func TestExplainHasNoSideEffects(t *testing.T) {
	filters := &fakeFilters{fn: func(fr filterRequest) (*filterOutcome, error) {
		if !fr.DryRun || fr.Password != "" || !fr.Authenticated {
			return nil, fmt.Errorf("explain ran the filters as %+v", fr)
		}
		return &filterOutcome{Results: []string{"route:ok"}}, nil
	}}
	env := newEnv(t, func(c *config.Config, o *Options) {
		c.Auth.Nginx.DefaultPolicy = config.PolicyRoundRobin
		o.filters = filters
	})
	before := gatherCounters(t, env)
	var first *ChosenBackend
	for range 3 {
		ans, w := env.explain(`{"username":"alice","protocol":"imap"}`)
		if ans.Status != "ok" {
			t.Fatalf("explain: %s", w.Body.String())
		}
		if first == nil {
			first = ans.Backend
		} else if *ans.Backend != *first {
			t.Errorf("explain advanced the round robin: %+v then %+v", first, ans.Backend)
		}
		if len(ans.FilterResults) != 1 {
			t.Errorf("filter results: %v", ans.FilterResults)
		}
	}
	if after := gatherCounters(t, env); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("explain changed the counters:\n%v\n%v", before, after)
	}
	if env.h.cache.len() != 0 {
		t.Error("explain wrote the cache")
	}
	if strings.Contains(env.logs.String(), "auth request") {
		t.Error("explain logged an auth request")
	}
}

// TestExplainAgreesWithTheRealSelection: for 10,000 random users, with
// user_hash, a filter script that routes some of them (one route to an
// ineligible backend, which the policy overrides), a drained and an
// unhealthy backend, explain names the backend nginx is then given.
func TestExplainAgreesWithTheRealSelection(t *testing.T) {
	const users = 10000
	rng := rand.New(rand.NewPCG(10, 10))
	names := make([]string, users)
	lines := make([]string, users)
	for i := range names {
		prefix := []string{"vip", "old", "usr", "usr"}[rng.IntN(4)]
		names[i] = fmt.Sprintf("%s%08x@example.org", prefix, rng.Uint32())
		lines[i] = names[i] + ":{PLAIN}pw-" + names[i]
	}
	env := newLuaEnv(t, func(c *config.Config) {
		c.Auth.Passdb[0].Path = writePasswdB(t, lines...)
	}, "route_vip.lua")
	env.health.set(
		mailBackend("imap-a", "imap", "127.0.0.1", 1143, true),
		drained(mailBackend("imap-b", "imap", "127.0.0.2", 2143, true)),
		mailBackend("imap-c", "imap", "127.0.0.3", 3143, true),
		mailBackend("imap-d", "imap", "127.0.0.4", 4143, false),
		mailBackend("imap-e", "imap", "127.0.0.5", 5143, true),
	)
	by := map[string]int{}
	for _, u := range names {
		ans, w := env.explain(`{"username":"` + u + `","protocol":"imap","client_ip":"192.0.2.7"}`)
		if ans.Status != "ok" || ans.Backend == nil {
			t.Fatalf("explain %s: %s", u, w.Body.String())
		}
		r := env.do(nginxRequest(u, "pw-"+u, "imap", "1"))
		got := r.Header().Get("Auth-Server") + ":" + r.Header().Get("Auth-Port")
		if want := fmt.Sprintf("%s:%d", ans.Backend.Host, ans.Backend.Port); got != want {
			t.Fatalf("%s: explain said %s (%s), nginx was given %s", u, want, ans.SelectedBy, got)
		}
		by[ans.SelectedBy]++
		if strings.HasPrefix(u, "old") && !strings.Contains(ans.Reason, "not eligible (unhealthy)") {
			t.Fatalf("%s: the override is not explained: %+v", u, ans)
		}
	}
	if by["filter:route_vip"] == 0 || by["policy:user_hash"] == 0 {
		t.Errorf("the test did not exercise both filter and policy: %v", by)
	}
	t.Logf("10,000 users agree; selected by %v", by)
}
