package config

import (
	"strings"
	"testing"
	"time"
)

func queueYAML(body string) string {
	return "definitions:\n  backends:\n    api:\n" + indent("origin: http://127.0.0.1:1\n"+body, 6)
}

func TestQueueDefaults(t *testing.T) {
	b := mustParse(t, queueYAML("max_connections: 2\n")).Definitions.Backends["api"]
	if b.MaxQueue != DefaultBackendMaxQueue || b.QueueTimeout != DefaultBackendQueueTimeout {
		t.Fatalf("max_queue %d queue_timeout %s, want the defaults", b.MaxQueue, b.QueueTimeout)
	}
	// An explicit 0 lifts the cap and the timer.
	b = mustParse(t, queueYAML("max_connections: 2\nmax_queue: 0\nqueue_timeout: 0\n")).Definitions.Backends["api"]
	if b.MaxQueue != 0 || b.QueueTimeout != 0 {
		t.Fatalf("max_queue %d queue_timeout %s, want 0 and 0", b.MaxQueue, b.QueueTimeout)
	}
	b = mustParse(t, queueYAML("max_connections: 2\nmax_queue: 5\nqueue_timeout: 1.5\n")).Definitions.Backends["api"]
	if b.MaxQueue != 5 || b.QueueTimeout != 1500*time.Millisecond {
		t.Fatalf("max_queue %d queue_timeout %s", b.MaxQueue, b.QueueTimeout)
	}
}

func TestQueueInlineDefaults(t *testing.T) {
	c := mustParse(t, `gateway:
  address: 127.0.0.1:18999
  endpoints:
    - path: /x
      proxy:
        backend:
          origin: http://127.0.0.1:1
          max_connections: 1
`)
	b := c.Gateway.Endpoints[0].Proxy.Backend.Inline
	if b.MaxQueue != DefaultBackendMaxQueue || b.QueueTimeout != DefaultBackendQueueTimeout {
		t.Fatalf("inline backend: max_queue %d queue_timeout %s", b.MaxQueue, b.QueueTimeout)
	}
}

func TestQueueErrors(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"max_queue: -1\n", "definitions.backends.api.max_queue (line 5): must be 0..1000000 (0: no cap), got -1"},
		{"max_queue: 1000001\n", "definitions.backends.api.max_queue (line 5): must be 0..1000000 (0: no cap), got 1000001"},
		{"max_queue: 99999999999999999999999\n", ""},
		{"max_queue: two\n", ""},
		{"max_queue: [1]\n", ""},
		{"queue_timeout: -1s\n", ""},
		{"queue_timeout: soon\n", ""},
		{"queue_timeout: 1e300\n", ""},
	} {
		if tc.want == "" {
			// Refused by the decoder; it names the key and line.
			got := strings.Join(parseErrors(t, queueYAML(tc.body)), "\n")
			if !strings.Contains(got, "definitions.backends.api.") || !strings.Contains(got, "(line 5)") {
				t.Errorf("%q: error lacks key path or line: %s", tc.body, got)
			}
			continue
		}
		wantError(t, queueYAML(tc.body), tc.want)
	}
}

func TestQueueRefinementForbidden(t *testing.T) {
	for _, key := range []string{"max_queue: 3", "queue_timeout: 1s"} {
		yml := queueYAML("max_connections: 1\n") + `gateway:
  address: 127.0.0.1:18999
  endpoints:
    - path: /x
      proxy:
        backend:
          label: api
          ` + key + "\n"
		name := key[:strings.IndexByte(key, ':')]
		wantError(t, yml, `gateway.endpoints[0].proxy.backend.`+name+` (line 13): backend reference: refinement for "api" is not permitted (`+name+`)`)
	}
}

func TestQueueWarnings(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"max_queue: 5\n", "definitions.backends.api.max_queue (line 5): has no effect without max_connections"},
		{"queue_timeout: 5s\n", "definitions.backends.api.queue_timeout (line 5): has no effect without max_connections"},
		{"max_connections: 1\ntimeout: 10s\nqueue_timeout: 10s\n", "definitions.backends.api.queue_timeout (line 7): 10s is not below timeout 10s"},
		{"max_connections: 1\ntimeout: 10s\n", ""}, // the default queue_timeout never warns
		{"max_connections: 1\nqueue_timeout: 0\n", ""},
	} {
		got := strings.Join(mustParse(t, queueYAML(tc.body)).Warnings(), "\n")
		switch {
		case tc.want == "" && strings.Contains(got, "queue"):
			t.Errorf("%q: unexpected warning: %s", tc.body, got)
		case tc.want != "" && !strings.Contains(got, tc.want):
			t.Errorf("%q: warnings lack %q: %s", tc.body, tc.want, got)
		}
	}
	// Inline backends are checked too.
	c := mustParse(t, `gateway:
  address: 127.0.0.1:18999
  endpoints:
    - path: /x
      proxy:
        backend:
          origin: http://127.0.0.1:1
          max_queue: 4
`)
	if got := strings.Join(c.Warnings(), "\n"); !strings.Contains(got, "gateway.endpoints[0].proxy.backend.max_queue (line 8): has no effect") {
		t.Errorf("inline warning missing: %s", got)
	}
}
