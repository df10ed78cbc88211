package config

import (
	"strings"
	"testing"
)

// refinementYAML is the definitions backend api (its keys def, line 5 on)
// and an endpoint refining it (its keys ref after label).
func refinementYAML(def, ref string) string {
	return queueYAML(def) + `gateway:
  address: 127.0.0.1:18999
  endpoints:
    - path: /x
      proxy:
        backend:
          label: api
` + indent(ref, 10)
}

// A refinement's timeout that does not exceed a queue_timeout of its label
// warns at the refinement's timeout, naming the queue key it undercuts.
func TestRefinementTimeoutBelowQueueTimeout(t *testing.T) {
	for _, tc := range []struct{ def, ref, want string }{
		{"max_connections: 1\nqueue_timeout: 10s\n", "timeout: 5s\n",
			"timeout (line 14): 5s is not above queue_timeout 10s of definitions.backends.api"},
		{"max_connections: 1\nqueue_timeout: 10s\n", "timeout: 10s\n", "10s is not above queue_timeout 10s"},
		{"beta_rate_limit:\n  period: 1s\n  per_period: 1\n  queue_timeout: 3s\n", "timeout: 2s\n",
			"gateway.endpoints[0].proxy.backend.timeout (line 16): 2s is not above definitions.backends.api.beta_rate_limit.queue_timeout 3s"},
		{"throttle:\n  - period: 1s\n    per_period: 1\n  - period: 1m\n    per_period: 9\n    queue_timeout: 3s\n", "timeout: 3s\n",
			"3s is not above definitions.backends.api.throttle[1].queue_timeout 3s"},
		// No warning: the refinement's timeout is above the queue's.
		{"max_connections: 1\nqueue_timeout: 10s\n", "timeout: 11s\n", ""},
		// The default queue_timeout never warns, as on the label.
		{"max_connections: 1\n", "timeout: 5s\n", ""},
		// queue_timeout 0: no timer to undercut.
		{"max_connections: 1\nqueue_timeout: 0\n", "timeout: 5s\n", ""},
		// Without max_connections nothing waits for a slot (the label warns).
		{"queue_timeout: 10s\n", "timeout: 5s\n", ""},
		// Only mode block rules: nothing queues on the throttle.
		{"throttle:\n  period: 1s\n  per_period: 1\n  mode: block\n  queue_timeout: 3s\n", "timeout: 2s\n", ""},
		// timeout 0 (none) and a refinement without timeout inherit nothing to warn about.
		{"max_connections: 1\nqueue_timeout: 10s\n", "timeout: 0\n", ""},
		{"max_connections: 1\nqueue_timeout: 10s\n", "ttfb_timeout: 5s\n", ""},
	} {
		got := strings.Join(mustParse(t, refinementYAML(tc.def, tc.ref)).Warnings(), "\n")
		mentions := strings.Contains(got, "proxy.backend.timeout")
		switch {
		case tc.want == "" && mentions:
			t.Errorf("%q / %q: unexpected warning: %s", tc.def, tc.ref, got)
		case tc.want != "" && !strings.Contains(got, tc.want):
			t.Errorf("%q / %q: warnings lack %q:\n%s", tc.def, tc.ref, tc.want, got)
		}
	}
}

// Both queues undercut: two warnings, one each, at the same key.
func TestRefinementTimeoutBothQueues(t *testing.T) {
	got := mustParse(t, refinementYAML("max_connections: 1\nqueue_timeout: 10s\nbeta_rate_limit:\n  period: 1s\n  per_period: 1\n  queue_timeout: 4s\n",
		"timeout: 2s\n")).Warnings()
	n := 0
	for _, w := range got {
		if strings.HasPrefix(w, "gateway.endpoints[0].proxy.backend.timeout ") {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d refinement warnings, want 2: %q", n, got)
	}
}

// Refinements of request backends and of the backend a token is fetched
// through are looked at too; a label that is not defined is an error, not
// a crash of the warnings.
func TestRefinementTimeoutElsewhere(t *testing.T) {
	yml := `definitions:
  backends:
    idp:
      origin: http://127.0.0.1:1
      max_connections: 1
      queue_timeout: 10s
    api:
      origin: http://127.0.0.1:2
      oauth2:
        grant_type: client_credentials
        token_endpoint: http://127.0.0.1:1/token
        client_id: a
        client_secret: b
        backend:
          label: idp
          timeout: 1s
gateway:
  address: 127.0.0.1:18999
  endpoints:
    - path: /x
      request:
        url: http://127.0.0.1:1/y
        backend:
          label: idp
          timeout: 2s
`
	got := strings.Join(mustParse(t, yml).Warnings(), "\n")
	for _, want := range []string{
		"definitions.backends.api.oauth2.backend.timeout (line 16): 1s is not above queue_timeout 10s",
		"gateway.endpoints[0].request.backend.timeout (line 25): 2s is not above queue_timeout 10s",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings lack %q:\n%s", want, got)
		}
	}
	// An undefined label fails the load; Warnings on a config built in
	// code with such a reference does not panic.
	c := &Config{}
	c.Gateway.Endpoints = []Endpoint{{Proxy: &ProxyBlock{Backend: BackendRef{Label: "gone", Inline: &Backend{}, Path: "p"}}}}
	_ = c.Warnings()
}
