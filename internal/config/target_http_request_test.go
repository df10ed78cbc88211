package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestHTTPCheckRequestKeys(t *testing.T) {
	t.Setenv("HEALTH_FORM", "client_secret=s3cret")
	tg := firstTarget(t, httpTarget("request_method: post\nrequest_body: ${HEALTH_FORM}\ndrain_on_status: [404, 410]"))
	if tg.RequestMethod != "POST" || tg.RequestBody != "client_secret=s3cret" || !reflect.DeepEqual(tg.DrainOnStatus, []int{404, 410}) {
		t.Errorf("method %q body %q drain %v", tg.RequestMethod, tg.RequestBody, tg.DrainOnStatus)
	}
	if tg := firstTarget(t, httpTarget("")); tg.RequestMethod != "GET" || tg.DrainOnStatus != nil {
		t.Errorf("defaults: method %q drain %v", tg.RequestMethod, tg.DrainOnStatus)
	}
	firstTarget(t, httpTarget("request_method: HEAD"))
	firstTarget(t, httpTarget("request_method: OPTIONS\nrequest_body: '{}'"))
}

func TestHTTPCheckRequestErrors(t *testing.T) {
	long := strings.Repeat("x", MaxCheckRequestBody+1)
	tests := []struct{ name, yml, want string }{
		{"DELETE", httpTarget("request_method: DELETE"),
			tp + `request_method (line 10): must be GET, HEAD, POST or OPTIONS, got "DELETE"`},
		{"method with CRLF", httpTarget(`request_method: "GET\r\nX-Injected: 1"`),
			tp + `request_method (line 10): must be GET, HEAD, POST or OPTIONS, got "GET\r\nX-Injected: 1"`},
		{"method with NUL", httpTarget(`request_method: "GE\x00T"`),
			tp + `request_method (line 10): must be GET, HEAD, POST or OPTIONS, got "GE\x00T"`},
		{"method with a space", httpTarget(`request_method: "GET "`),
			tp + `request_method (line 10): must be GET, HEAD, POST or OPTIONS, got "GET "`},
		{"empty method", httpTarget(`request_method: ""`),
			tp + `request_method (line 10): must be GET, HEAD, POST or OPTIONS, got ""`},
		{"body with GET", httpTarget("request_body: a=1"),
			tp + "request_body (line 10): needs request_method POST or OPTIONS (a GET request carries no body)"},
		{"body with HEAD", httpTarget("request_method: HEAD\nrequest_body: a=1"),
			tp + "request_body (line 11): needs request_method POST or OPTIONS (a HEAD request carries no body)"},
		{"empty body", httpTarget("request_method: POST\nrequest_body: ''"),
			tp + "request_body (line 11): must not be empty (leave it out to send no body)"},
		{"oversized body", httpTarget("request_method: POST\nrequest_body: " + long),
			tp + "request_body (line 11): must be at most 16384 bytes, got 16385"},
		{"text with HEAD", httpTarget("request_method: HEAD\nexpected_text: ok"),
			tp + "expected_text (line 11): cannot be checked with request_method HEAD (a HEAD answer has no body)"},
		{"drain empty", httpTarget("drain_on_status: []"),
			tp + "drain_on_status (line 10): must list at least one status (leave it out to never drain)"},
		{"drain out of range", httpTarget("drain_on_status: [404, 600]"),
			tp + "drain_on_status[1] (line 10): must be an HTTP status 100..599, got 600"},
		{"drain overlaps expected", httpTarget("expected_status: [200, 404]\ndrain_on_status: [404]"),
			tp + "drain_on_status[0] (line 11): 404 is also in expected_status (an answer either passes or drains)"},
		{"drain twice", httpTarget("drain_on_status: [404, 404]"),
			tp + "drain_on_status[1] (line 10): lists 404 twice"},
		{"drain on imap", imapTarget("drain_on_status: [404]"),
			tp + "drain_on_status (line 9): only applies to protocol http"},
		{"method without deep_check", target("http", "::1", 80, "request_method: POST"),
			tp + "request_method (line 9): only applies with deep_check (a connect-only check sends no HTTP request)"},
		{"content-length header", httpTarget("request_method: POST\nrequest_body: a\nheaders:\n  Content-Length: '5'"),
			tp + "headers.Content-Length (line 13): is set by the check itself and cannot be configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantOnlyError(t, tt.yml, tt.want) })
	}
}

// No message quotes the body: it may be a login form or a token.
func TestHTTPCheckRequestBodyNeverQuoted(t *testing.T) {
	for _, yml := range []string{
		httpTarget("request_body: client_secret=s3cret"),
		httpTarget("request_method: HEAD\nrequest_body: client_secret=s3cret"),
		httpTarget("request_method: POST\nrequest_body: client_secret=s3cret" + strings.Repeat("x", MaxCheckRequestBody)),
		healthYAML("body: client_secret=s3cret\n"),
	} {
		got := parseErrors(t, yml)
		if len(got) == 0 {
			t.Fatalf("no error for %q", yml)
		}
		if strings.Contains(strings.Join(got, "\n"), "s3cret") {
			t.Errorf("message quotes the body: %q", got)
		}
	}
}

func TestHealthRequestKeys(t *testing.T) {
	h := mustParse(t, healthYAML("method: Post\nbody: '{\"probe\":1}'\ndrain_on_status: [404]\n")).Definitions.Backends["api"].Health
	if h.Method != "POST" || h.Body != `{"probe":1}` || !reflect.DeepEqual(h.DrainOnStatus, []int{404}) {
		t.Errorf("method %q body %q drain %v", h.Method, h.Body, h.DrainOnStatus)
	}
	if h := mustParse(t, healthYAML("path: /h\n")).Definitions.Backends["api"].Health; h.Method != "GET" || h.Body != "" {
		t.Errorf("defaults: method %q body %q", h.Method, h.Body)
	}
}

func TestHealthRequestErrors(t *testing.T) {
	const p = "definitions.backends.api.beta_health."
	for _, tc := range []struct{ body, want string }{
		{"method: TRACE\n", p + `method (line 6): must be GET, HEAD, POST or OPTIONS, got "TRACE"`},
		{"method: \"POST\\r\\n\"\n", p + `method (line 6): must be GET, HEAD, POST or OPTIONS, got "POST\r\n"`},
		{"body: a=1\n", p + "body (line 6): needs method POST or OPTIONS (a GET request carries no body)"},
		{"method: POST\nbody: " + strings.Repeat("x", MaxCheckRequestBody+1) + "\n", p + "body (line 7): must be at most 16384 bytes, got 16385"},
		{"method: HEAD\nexpected_text: ok\n", p + "expected_text (line 7): cannot be checked with method HEAD (a HEAD answer has no body)"},
		// beta_health's default expected_status is [200, 204, 301].
		{"drain_on_status: [204]\n", p + "drain_on_status[0] (line 6): 204 is also in expected_status (an answer either passes or drains)"},
		{"method: POST\nbody: x\nheaders:\n  content-length: '9'\n", p + "headers.content-length (line 9): is set by the check itself when it sends a body"},
	} {
		t.Run(tc.want, func(t *testing.T) { wantOnlyError(t, healthYAML(tc.body), tc.want) })
	}
}
