package gateway

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func tokenRequestYAML(origin, blocks, extra string) string {
	return gatewayYAML(origin, extra+"      beta_token_request:\n"+blocks, oauthEndpoint)
}

// TestTokenRequestInTemplates: two named token requests, one with a JSON
// body, one a form; their tokens go into a header and the query through
// the backend's own modifiers; both are cached for their ttl.
func TestTokenRequestInTemplates(t *testing.T) {
	idp := newFakeServer(t, func(n int, r *http.Request, body string, w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Ttl", "120")
		fmt.Fprintf(w, `{"data":{"token":"T%d","list":[7,"x"]},"expires":60}`, n)
	})
	o := newFakeServer(t, func(_ int, r *http.Request, _ string, w http.ResponseWriter) {
		fmt.Fprintf(w, "auth=%s query=%s", r.Header.Get("Authorization"), r.URL.RawQuery)
	})
	blocks := fmt.Sprintf(`        default:
          url: %[1]s/jwt
          json_body:
            client: backline
          headers:
            X-Key: k1
          token: ${backend_response.json_body.data.token}
          ttl: ${backend_response.json_body.expires}s
        other:
          url: %[1]s/form
          form_body:
            a: b
          token: ${backend_response.json_body.data.list.1}-${backend_response.status}
          ttl: ${backend_response.headers.x-ttl}
`, idp.URL)
	extra := "      set_request_headers:\n        Authorization: Bearer ${beta_token}\n      set_query_params:\n        t: ${beta_tokens.other}\n        u: ${backends.api.beta_tokens.default}\n"
	h := newHarness(t, tokenRequestYAML(o.URL, blocks, extra))
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	for _, tr := range h.gw.backends["api"].tokenRequests {
		tr.cache.now = clock
	}
	get := func() string {
		resp, body := h.do(http.MethodGet, "/x", nil, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d body %s logs %s", resp.StatusCode, body, h.logs)
		}
		return body
	}
	if got := get(); got != "auth=Bearer T1 query=t=x-200&u=T1" {
		t.Fatalf("first: %q", got)
	}
	reqs := idp.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d token requests", len(reqs))
	}
	if r := reqs[0]; r.Method != "POST" || r.Path != "/jwt" || r.Body != `{"client":"backline"}` ||
		r.Header.Get("Content-Type") != "application/json" || r.Header.Get("X-Key") != "k1" {
		t.Fatalf("default token request %+v", r)
	}
	if r := reqs[1]; r.Method != "POST" || r.Path != "/form" || r.Body != "a=b" ||
		r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Fatalf("other token request %+v", r)
	}
	now.Add(int64(61 * time.Second)) // default expired, other (120 s) not
	if got := get(); got != "auth=Bearer T3 query=t=x-200&u=T3" {
		t.Fatalf("after 61 s: %q", got)
	}
	if n := len(idp.requests()); n != 3 {
		t.Fatalf("%d token requests, want 3", n)
	}
}

func TestTokenRequestFailures(t *testing.T) {
	for _, c := range []struct {
		name, block string
		reply       func(w http.ResponseWriter)
	}{
		{"unexpected status", "          expected_status: [200]\n", func(w http.ResponseWriter) { w.WriteHeader(500); _, _ = io.WriteString(w, `{"t":"a"}`) }},
		{"empty token", "", func(w http.ResponseWriter) { _, _ = io.WriteString(w, `{}`) }},
		{"not json", "", func(w http.ResponseWriter) { _, _ = io.WriteString(w, `<html>`) }},
		{"huge", "", func(w http.ResponseWriter) {
			_, _ = io.WriteString(w, `{"t":"`+strings.Repeat("a", maxTokenResponse)+`"}`)
		}},
		{"bad ttl", "", func(w http.ResponseWriter) { _, _ = io.WriteString(w, `{"t":"a","ttl":"soon"}`) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			idp := newFakeServer(t, func(_ int, _ *http.Request, _ string, w http.ResponseWriter) { c.reply(w) })
			o := newFakeServer(t, bearerOrigin())
			blocks := "        url: " + idp.URL + "/t\n        token: ${backend_response.json_body.t}\n        ttl: ${backend_response.json_body.ttl}\n" + strings.ReplaceAll(c.block, "          ", "        ")
			h := newHarness(t, tokenRequestYAML(o.URL, blocks, "      set_request_headers:\n        X-T: ${beta_token}\n"))
			resp, body := h.do(http.MethodGet, "/x", nil, nil)
			expectError(t, resp, body, http.StatusBadGateway, "beta_backend_token_request")
			if len(o.requests()) != 0 {
				t.Fatal("origin asked without its token")
			}
		})
	}
}

// TestTokenRequestHeaderValueIsSanitised: a token with CR/LF from a hostile
// endpoint cannot add headers (header values are stripped of controls).
func TestTokenRequestHeaderValueIsSanitised(t *testing.T) {
	idp := newFakeServer(t, func(_ int, _ *http.Request, _ string, w http.ResponseWriter) {
		_, _ = io.WriteString(w, `{"t":"a\r\nX-Evil: 1"}`)
	})
	o := newFakeServer(t, func(_ int, r *http.Request, _ string, w http.ResponseWriter) {
		fmt.Fprintf(w, "t=%q evil=%q", r.Header.Get("X-T"), r.Header.Get("X-Evil"))
	})
	h := newHarness(t, tokenRequestYAML(o.URL, "        url: "+idp.URL+"/t\n        token: ${backend_response.json_body.t}\n        ttl: 60s\n",
		"      set_request_headers:\n        X-T: ${beta_token}\n"))
	_, body := h.do(http.MethodGet, "/x", nil, nil)
	if body != `t="aX-Evil: 1" evil=""` {
		t.Fatalf("body %s", body)
	}
}
