package gateway

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestOAuth2HostileTokenResponses: every bad answer is a 502 of the token
// kind, and nothing of the answer or the credentials reaches the client
// or the log.
func TestOAuth2HostileTokenResponses(t *testing.T) {
	const secret = "TOPSECRET-client"
	for _, c := range []struct {
		name  string
		reply func(w http.ResponseWriter)
	}{
		{"huge", func(w http.ResponseWriter) {
			_, _ = io.WriteString(w, `{"access_token":"`+strings.Repeat("a", maxTokenResponse)+`"}`)
		}},
		{"not json", func(w http.ResponseWriter) { _, _ = io.WriteString(w, "<html>"+secret+"</html>") }},
		{"no access_token", func(w http.ResponseWriter) { _, _ = io.WriteString(w, `{"token_type":"Bearer"}`) }},
		{"empty access_token", func(w http.ResponseWriter) { _, _ = io.WriteString(w, `{"access_token":""}`) }},
		{"header injection", func(w http.ResponseWriter) { _, _ = io.WriteString(w, `{"access_token":"a\r\nX-Evil: 1"}`) }},
		{"wrong type", func(w http.ResponseWriter) { _, _ = io.WriteString(w, `{"access_token":"a","token_type":"mac"}`) }},
		{"expires_in object", func(w http.ResponseWriter) { _, _ = io.WriteString(w, `{"access_token":"a","expires_in":{}}`) }},
		{"array", func(w http.ResponseWriter) { _, _ = io.WriteString(w, `[1,2]`) }},
		{"truncated", func(w http.ResponseWriter) { _, _ = io.WriteString(w, `{"access_token":"ab`) }},
		{"error echoing secret", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":"invalid_client","error_description":"bad secret `+secret+`"}`)
		}},
		{"error code with spaces", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":"`+secret+` x"}`)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			idp := newFakeServer(t, func(_ int, _ *http.Request, _ string, w http.ResponseWriter) { c.reply(w) })
			o := newFakeServer(t, bearerOrigin())
			h := newHarness(t, oauthYAML(o.URL, "        grant_type: client_credentials\n        token_endpoint: "+idp.URL+"/t\n        client_id: id\n        client_secret: "+secret+"\n"))
			resp, body := h.do(http.MethodGet, "/x", nil, nil)
			expectError(t, resp, body, http.StatusBadGateway, "beta_backend_token_request")
			if len(o.requests()) != 0 {
				t.Fatal("the origin was asked without a token")
			}
			logs := h.logs.String()
			base := base64.StdEncoding.EncodeToString([]byte("id:" + secret))
			for _, s := range []string{secret, base} {
				if strings.Contains(logs, s) || strings.Contains(body, s) {
					t.Fatalf("secret leaked: logs %s body %s", logs, body)
				}
			}
			if !strings.Contains(logs, "beta_backend_token_request") {
				t.Fatalf("failure not logged: %s", logs)
			}
		})
	}
}

// TestOAuth2TokenNotInLogs: the token a request used and the client
// secret are in no log line and no metric.
func TestOAuth2TokenNotInLogs(t *testing.T) {
	idp := newFakeServer(t, func(_ int, _ *http.Request, _ string, w http.ResponseWriter) {
		_, _ = io.WriteString(w, `{"access_token":"SECRET-ACCESS-TOKEN","expires_in":60}`)
	})
	o := newFakeServer(t, func(_ int, _ *http.Request, _ string, w http.ResponseWriter) { w.WriteHeader(500) })
	h := newHarness(t, oauthYAML(o.URL, "        grant_type: client_credentials\n        token_endpoint: "+idp.URL+"/t\n        client_id: id\n        client_secret: S3CRET-client-x\n"))
	h.do(http.MethodGet, "/x", nil, nil)
	if strings.Contains(h.logs.String(), "SECRET-ACCESS-TOKEN") || strings.Contains(h.logs.String(), "S3CRET-client-x") {
		t.Fatalf("token or secret in logs: %s", h.logs)
	}
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if text := fmt.Sprint(mfs); strings.Contains(text, "SECRET-ACCESS-TOKEN") || strings.Contains(text, "S3CRET-client-x") {
		t.Fatalf("token or secret in metrics: %s", text)
	}
}

// TestOAuth2MissingExpiresInIsCached: without expires_in the token is kept
// for the default lifetime; a nonsense one is used by its waiters only.
func TestOAuth2MissingExpiresInIsCached(t *testing.T) {
	for _, c := range []struct {
		expires   string
		wantFetch int
	}{{"", 1}, {`,"expires_in":-5`, 2}, {`,"expires_in":"3600"`, 1}, {`,"expires_in":"soon"`, 2}, {`,"expires_in":1e300`, 1}} {
		t.Run(c.expires, func(t *testing.T) {
			idp := newFakeServer(t, tokenJSON(c.expires))
			o := newFakeServer(t, bearerOrigin())
			h := newHarness(t, oauthYAML(o.URL, "        grant_type: client_credentials\n        token_endpoint: "+idp.URL+"/t\n        client_id: id\n        client_secret: sec\n"))
			for range 2 {
				if resp, body := h.do(http.MethodGet, "/x", nil, nil); resp.StatusCode != 200 {
					t.Fatalf("status %d body %s", resp.StatusCode, body)
				}
			}
			if n := len(idp.requests()); n != c.wantFetch {
				t.Fatalf("%d fetches, want %d", n, c.wantFetch)
			}
		})
	}
}

// TestOAuth2SlowTokenEndpoint: waiting for a token counts against the
// backend's timeout; the request ends as a 504 and the slot is free.
func TestOAuth2SlowTokenEndpoint(t *testing.T) {
	release := make(chan struct{})
	idp := newFakeServer(t, func(n int, r *http.Request, body string, w http.ResponseWriter) {
		<-release
		tokenJSON("")(n, r, body, w)
	})
	defer close(release)
	o := newFakeServer(t, bearerOrigin())
	yml := gatewayYAML(o.URL, "      timeout: 200ms\n      oauth2:\n        grant_type: client_credentials\n        token_endpoint: "+idp.URL+"/t\n        client_id: id\n        client_secret: sec\n", oauthEndpoint)
	h := newHarness(t, yml)
	resp, body := h.do(http.MethodGet, "/x", nil, nil)
	expectError(t, resp, body, http.StatusGatewayTimeout, "backend_timeout")
	if n := h.gw.backends["api"].inFlight.Load(); n != 0 {
		t.Fatalf("%d still in flight", n)
	}
}

// TestOAuth2TokenBackendThrottled: the token backend's own layers apply;
// a token request its throttle refuses fails as a token error (502),
// with the throttle named in the log.
func TestOAuth2TokenBackendThrottled(t *testing.T) {
	idp := newFakeServer(t, tokenJSON(`,"expires_in":0`))
	o := newFakeServer(t, bearerOrigin())
	yml := idpClientCredentialsYAML(idp.URL, "      throttle:\n        period: 1h\n        per_period: 1\n        mode: block\n", o.URL)
	h := newHarness(t, yml)
	if resp, body := h.do(http.MethodGet, "/x", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("first: status %d body %s", resp.StatusCode, body)
	}
	// expires_in 0: not cached, so the second request needs a second
	// token request, which the throttle refuses.
	resp, body := h.do(http.MethodGet, "/x", nil, nil)
	expectError(t, resp, body, http.StatusBadGateway, "beta_backend_token_request")
	if !strings.Contains(h.logs.String(), "backend_throttle_exceeded") {
		t.Fatalf("logs %s", h.logs)
	}
	if n := len(idp.requests()); n != 1 {
		t.Fatalf("token endpoint asked %d times", n)
	}
}

// TestTokenFetchEndsOnClose: a fetch still waiting on a hung token
// endpoint ends when the gateway is closed (a reload's old generation),
// not only at the token backend's timeout.
func TestTokenFetchEndsOnClose(t *testing.T) {
	hung := make(chan struct{})
	idp := newFakeServer(t, func(_ int, r *http.Request, _ string, _ http.ResponseWriter) {
		select {
		case <-r.Context().Done():
		case <-hung:
		}
	})
	defer close(hung)
	o := newFakeServer(t, bearerOrigin())
	h := newHarness(t, gatewayYAML(o.URL, "      timeout: 100ms\n      oauth2:\n        grant_type: client_credentials\n        token_endpoint: "+idp.URL+"/t\n        client_id: id\n        client_secret: sec\n", oauthEndpoint))
	resp, body := h.do(http.MethodGet, "/x", nil, nil)
	expectError(t, resp, body, http.StatusGatewayTimeout, "backend_timeout")
	cache := h.gw.backends["api"].oauth.cache
	running := func() bool {
		cache.mu.Lock()
		defer cache.mu.Unlock()
		return cache.inflight != nil
	}
	if !running() {
		t.Fatal("the fetch ended with the request; it should outlive it")
	}
	h.gw.Close()
	for running() {
		time.Sleep(time.Millisecond)
	}
}
