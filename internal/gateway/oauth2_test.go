package gateway

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// seenRequest is what a fake server was sent.
type seenRequest struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   string
}

// fakeServer records requests and answers with reply.
type fakeServer struct {
	*httptest.Server
	mu    sync.Mutex
	seen  []seenRequest
	reply func(n int, r *http.Request, body string, w http.ResponseWriter)
}

func newFakeServer(t *testing.T, reply func(n int, r *http.Request, body string, w http.ResponseWriter)) *fakeServer {
	t.Helper()
	f := &fakeServer{reply: reply}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.seen = append(f.seen, seenRequest{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), string(b)})
		n := len(f.seen)
		f.mu.Unlock()
		f.reply(n, r, string(b), w)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeServer) requests() []seenRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seenRequest(nil), f.seen...)
}

// tokenJSON answers a token request with token n.
func tokenJSON(expires string) func(int, *http.Request, string, http.ResponseWriter) {
	return func(n int, _ *http.Request, _ string, w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"tok%d","token_type":"Bearer"%s}`, n, expires)
	}
}

// bearerOrigin answers 200 with the Authorization it got, or 401 for the
// tokens in refuse.
func bearerOrigin(refuse ...string) func(int, *http.Request, string, http.ResponseWriter) {
	return func(_ int, r *http.Request, body string, w http.ResponseWriter) {
		auth := r.Header.Get("Authorization")
		for _, t := range refuse {
			if auth == "Bearer "+t {
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = io.WriteString(w, "expired")
				return
			}
		}
		fmt.Fprintf(w, "auth=%s body=%s", auth, body)
	}
}

const oauthEndpoint = "    - path: /x\n      proxy:\n        backend: api\n"

// idpClientCredentialsYAML is a backend "idp" (its extra attribute lines
// appended) whose token endpoint backend "api" reaches for a
// client_credentials grant, and the oauth endpoint on api.
func idpClientCredentialsYAML(idpURL, idpExtra, originURL string) string {
	return fmt.Sprintf(`definitions:
  backends:
    idp:
      origin: %s
%s    api:
      origin: %s
      oauth2:
        grant_type: client_credentials
        token_endpoint: http://idp.example/token
        backend: idp
        client_id: id
        client_secret: sec
gateway:
  address: 127.0.0.1:18999
  endpoints:
%s`, idpURL, idpExtra, originURL, oauthEndpoint)
}

func oauthYAML(origin, oauth string) string {
	return gatewayYAML(origin, "      oauth2:\n"+oauth, oauthEndpoint)
}

func TestOAuth2ClientCredentialsBasicTranscript(t *testing.T) {
	idp := newFakeServer(t, tokenJSON(`,"expires_in":3600`))
	o := newFakeServer(t, bearerOrigin())
	h := newHarness(t, oauthYAML(o.URL, fmt.Sprintf(`        grant_type: client_credentials
        token_endpoint: %s/oauth/token
        client_id: "my id"
        client_secret: "s3cr:t&"
        scope: read write
`, idp.URL)))
	for range 2 {
		resp, body := h.do(http.MethodGet, "/x", nil, nil)
		if resp.StatusCode != 200 || body != "auth=Bearer tok1 body=" {
			t.Fatalf("status %d body %q logs %s", resp.StatusCode, body, h.logs)
		}
	}
	reqs := idp.requests()
	if len(reqs) != 1 {
		t.Fatalf("token endpoint asked %d times, want 1 (cached)", len(reqs))
	}
	r := reqs[0]
	wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte("my+id:s3cr%3At%26"))
	if r.Method != "POST" || r.Path != "/oauth/token" || r.Body != "grant_type=client_credentials&scope=read+write" ||
		r.Header.Get("Authorization") != wantAuth || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" ||
		r.Header.Get("Accept") != "application/json" {
		t.Fatalf("token request = %+v", r)
	}
}

func TestOAuth2GrantsAndPostAuth(t *testing.T) {
	for _, c := range []struct{ name, block, wantBody string }{
		{"client_secret_post", "        grant_type: client_credentials\n        token_endpoint_auth_method: client_secret_post\n        client_id: id\n        client_secret: sec\n",
			"client_id=id&client_secret=sec&grant_type=client_credentials"},
		{"password", "        grant_type: password\n        token_endpoint_auth_method: client_secret_post\n        client_id: id\n        client_secret: sec\n        username: u@x\n        password: p w\n",
			"client_id=id&client_secret=sec&grant_type=password&password=p+w&username=u%40x"},
		{"jwt-bearer", "        grant_type: urn:ietf:params:oauth:grant-type:jwt-bearer\n        assertion: eyJ.a.b\n",
			"assertion=eyJ.a.b&grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"},
	} {
		t.Run(c.name, func(t *testing.T) {
			idp := newFakeServer(t, tokenJSON(""))
			o := newFakeServer(t, bearerOrigin())
			h := newHarness(t, oauthYAML(o.URL, "        token_endpoint: "+idp.URL+"/t\n"+c.block))
			resp, body := h.do(http.MethodGet, "/x", nil, nil)
			if resp.StatusCode != 200 || body != "auth=Bearer tok1 body=" {
				t.Fatalf("status %d body %q", resp.StatusCode, body)
			}
			r := idp.requests()[0]
			if r.Body != c.wantBody || r.Header.Get("Authorization") != "" {
				t.Fatalf("token request body %q, Authorization %q", r.Body, r.Header.Get("Authorization"))
			}
		})
	}
}

// TestOAuth2TokenThroughLabeledBackend: the token endpoint is reached
// through its own backend block, with that block's modifiers.
func TestOAuth2TokenThroughLabeledBackend(t *testing.T) {
	idp := newFakeServer(t, tokenJSON(""))
	o := newFakeServer(t, bearerOrigin())
	yml := idpClientCredentialsYAML(idp.URL, "      set_request_headers:\n        X-Via: idp-backend\n", o.URL)
	h := newHarness(t, yml)
	resp, body := h.do(http.MethodGet, "/x", nil, nil)
	if resp.StatusCode != 200 || body != "auth=Bearer tok1 body=" {
		t.Fatalf("status %d body %q logs %s", resp.StatusCode, body, h.logs)
	}
	r := idp.requests()[0]
	if r.Path != "/token" || r.Header.Get("X-Via") != "idp-backend" {
		t.Fatalf("token request %+v", r)
	}
}

// TestOAuth2ConcurrentRequestsShareOneFetch: requests arriving while the
// token is fetched wait for that fetch instead of starting their own.
func TestOAuth2ConcurrentRequestsShareOneFetch(t *testing.T) {
	release := make(chan struct{})
	var fetches atomic.Int64
	idp := newFakeServer(t, func(n int, r *http.Request, body string, w http.ResponseWriter) {
		fetches.Add(1)
		<-release
		tokenJSON("")(n, r, body, w)
	})
	o := newFakeServer(t, bearerOrigin())
	h := newHarness(t, oauthYAML(o.URL, "        grant_type: client_credentials\n        token_endpoint: "+idp.URL+"/t\n        client_id: id\n        client_secret: sec\n"))
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for range n {
		wg.Go(func() {
			resp, body := h.do(http.MethodGet, "/x", nil, nil)
			if resp.StatusCode != 200 || body != "auth=Bearer tok1 body=" {
				errs <- fmt.Sprintf("status %d body %q", resp.StatusCode, body)
			}
		})
	}
	// Every request is waiting once the gateway counts them: the fetch is
	// held until then.
	for h.gw.backends["api"].inFlight.Load() < n {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if got := fetches.Load(); got != 1 {
		t.Fatalf("%d token fetches, want 1", got)
	}
}

// TestOAuth2TokenExpiry: a token is used until expires_in minus the skew
// (10 %, at least 5 s), then fetched anew.
func TestOAuth2TokenExpiry(t *testing.T) {
	idp := newFakeServer(t, tokenJSON(`,"expires_in":100`))
	o := newFakeServer(t, bearerOrigin())
	h := newHarness(t, oauthYAML(o.URL, "        grant_type: client_credentials\n        token_endpoint: "+idp.URL+"/t\n        client_id: id\n        client_secret: sec\n"))
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	h.gw.backends["api"].oauth.cache.now = func() time.Time { return time.Unix(0, now.Load()) }
	want := func(tok string) {
		t.Helper()
		if _, body := h.do(http.MethodGet, "/x", nil, nil); body != "auth=Bearer "+tok+" body=" {
			t.Fatalf("body %q, want token %s", body, tok)
		}
	}
	want("tok1")
	now.Add(int64(89 * time.Second))
	want("tok1")
	now.Add(int64(2 * time.Second)) // 91 s: past 100 s - 10 s
	want("tok2")
}

func TestCacheLifetime(t *testing.T) {
	for _, c := range []struct{ in, want time.Duration }{
		{3600 * time.Second, 3240 * time.Second},
		{30 * time.Second, 25 * time.Second},
		{5 * time.Second, 0},
		{0, 0},
		{1000 * time.Hour, 24*time.Hour - 144*time.Minute},
	} {
		if got := cacheLifetime(c.in); got != c.want {
			t.Errorf("cacheLifetime(%s) = %s, want %s", c.in, got, c.want)
		}
	}
}

// TestOAuth2RetryOn401ReplaysBody: the origin refuses the cached token;
// the gateway fetches a new one and sends the same body again.
func TestOAuth2RetryOn401ReplaysBody(t *testing.T) {
	idp := newFakeServer(t, tokenJSON(`,"expires_in":3600`))
	o := newFakeServer(t, bearerOrigin("tok1"))
	h := newHarness(t, oauthYAML(o.URL, "        grant_type: client_credentials\n        token_endpoint: "+idp.URL+"/t\n        client_id: id\n        client_secret: sec\n"))
	payload := strings.Repeat("p", 100<<10)
	resp, body := h.do(http.MethodPost, "/x", strings.NewReader(payload), map[string]string{"X-Forwarded-For": "10.0.0.1"})
	if resp.StatusCode != 200 || body != "auth=Bearer tok2 body="+payload {
		t.Fatalf("status %d, body %.60q", resp.StatusCode, body)
	}
	reqs := o.requests()
	if len(reqs) != 2 || reqs[0].Body != payload || reqs[1].Body != payload {
		t.Fatalf("origin saw %d requests", len(reqs))
	}
	// The replay is the request as first built, not as sent: one
	// X-Forwarded-For entry added, not two.
	if got := reqs[1].Header.Values("X-Forwarded-For"); len(got) != 1 || got[0] != "10.0.0.1, 127.0.0.1" {
		t.Fatalf("X-Forwarded-For on replay = %v", got)
	}
	if got := reqs[1].Header.Values("X-Forwarded-Proto"); len(got) != 1 || got[0] != "http" {
		t.Fatalf("X-Forwarded-Proto on replay = %v", got)
	}
	if n := len(idp.requests()); n != 2 {
		t.Fatalf("%d token fetches, want 2", n)
	}
	// The new token is cached.
	if _, body := h.do(http.MethodGet, "/x", nil, nil); body != "auth=Bearer tok2 body=" {
		t.Fatalf("body %q", body)
	}
}

func TestOAuth2RetriesCount(t *testing.T) {
	for _, c := range []struct {
		retries    string
		wantOrigin int
	}{{"", 2}, {"        retries: 0\n", 1}, {"        retries: 3\n", 4}} {
		t.Run("retries"+c.retries, func(t *testing.T) {
			idp := newFakeServer(t, tokenJSON(""))
			o := newFakeServer(t, bearerOrigin("tok1", "tok2", "tok3", "tok4", "tok5"))
			h := newHarness(t, oauthYAML(o.URL, "        grant_type: client_credentials\n        token_endpoint: "+idp.URL+"/t\n        client_id: id\n        client_secret: sec\n"+c.retries))
			resp, body := h.do(http.MethodGet, "/x", nil, nil)
			if resp.StatusCode != 401 || body != "expired" {
				t.Fatalf("status %d body %q", resp.StatusCode, body)
			}
			if n := len(o.requests()); n != c.wantOrigin {
				t.Fatalf("origin asked %d times, want %d", n, c.wantOrigin)
			}
			if n := h.gw.backends["api"].inFlight.Load(); n != 0 {
				t.Fatalf("%d still in flight", n)
			}
		})
	}
}

// TestOAuth2LargeBodyIsNotReplayed: past maxReplayBody the body streams
// and a 401 is passed through rather than replayed incomplete.
func TestOAuth2LargeBodyIsNotReplayed(t *testing.T) {
	idp := newFakeServer(t, tokenJSON(""))
	o := newFakeServer(t, bearerOrigin("tok1"))
	h := newHarness(t, oauthYAML(o.URL, "        grant_type: client_credentials\n        token_endpoint: "+idp.URL+"/t\n        client_id: id\n        client_secret: sec\n"))
	payload := bytes.Repeat([]byte("q"), maxReplayBody+1)
	resp, _ := h.do(http.MethodPost, "/x", bytes.NewReader(payload), nil)
	if resp.StatusCode != 401 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	reqs := o.requests()
	if len(reqs) != 1 || reqs[0].Body != string(payload) {
		t.Fatalf("origin saw %d requests", len(reqs))
	}
}

// TestOAuth2SharedByRefinementAndInline: a refinement uses its label's
// token (one fetch for both endpoints); an inline backend with oauth2 has
// its own; a token request with a relative url goes to its backend's
// origin.
func TestOAuth2SharedByRefinementAndInline(t *testing.T) {
	idp := newFakeServer(t, tokenJSON(`,"expires_in":3600`))
	o := newFakeServer(t, bearerOrigin())
	yml := fmt.Sprintf(`definitions:
  backends:
    idp:
      origin: %[1]s
    api:
      origin: %[2]s
      oauth2:
        grant_type: client_credentials
        token_endpoint: %[1]s/t
        client_id: id
        client_secret: sec
gateway:
  address: 127.0.0.1:18999
  endpoints:
    - path: /plain
      proxy:
        backend: api
    - path: /refined
      proxy:
        backend:
          label: api
          path: /other
    - path: /inline
      proxy:
        backend:
          origin: %[2]s
          oauth2:
            grant_type: client_credentials
            token_endpoint: http://ignored.example/token2
            backend: idp
            client_id: id2
            client_secret: sec2
`, idp.URL, o.URL)
	h := newHarness(t, yml)
	for _, c := range []struct{ path, want string }{
		{"/plain", "auth=Bearer tok1 body="}, {"/refined", "auth=Bearer tok1 body="}, {"/inline", "auth=Bearer tok2 body="},
	} {
		if resp, body := h.do(http.MethodGet, c.path, nil, nil); resp.StatusCode != 200 || body != c.want {
			t.Fatalf("%s: status %d body %q logs %s", c.path, resp.StatusCode, body, h.logs)
		}
	}
	reqs := idp.requests()
	if len(reqs) != 2 || reqs[1].Path != "/token2" {
		t.Fatalf("token requests %+v", reqs)
	}
	if got := o.requests()[1].Path; got != "/other" {
		t.Fatalf("refinement path %q", got)
	}
}

// TestOAuth2Concurrent401s: many requests refused with the same old token
// cause one new fetch, not one each, and all succeed with the new token.
func TestOAuth2Concurrent401s(t *testing.T) {
	idp := newFakeServer(t, tokenJSON(`,"expires_in":3600`))
	o := newFakeServer(t, bearerOrigin("tok1"))
	h := newHarness(t, oauthYAML(o.URL, "        grant_type: client_credentials\n        token_endpoint: "+idp.URL+"/t\n        client_id: id\n        client_secret: sec\n"))
	if _, err := h.gw.backends["api"].oauth.cache.get(t.Context()); err != nil { // tok1 cached
		t.Fatal(err)
	}
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Go(func() {
			body := fmt.Sprintf("req%d", i)
			resp, got := h.do(http.MethodPost, "/x", strings.NewReader(body), nil)
			if resp.StatusCode != 200 || got != "auth=Bearer tok2 body="+body {
				errs <- fmt.Sprintf("status %d body %q", resp.StatusCode, got)
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if got := len(idp.requests()); got != 2 {
		t.Fatalf("%d token fetches, want 2", got)
	}
}

// TestTokenFetchesLoggedAndCounted: a fetch is logged with its lifetime
// (not the token), and the token backend's series count its requests.
func TestTokenFetchesLoggedAndCounted(t *testing.T) {
	idp := newFakeServer(t, func(_ int, _ *http.Request, _ string, w http.ResponseWriter) {
		_, _ = io.WriteString(w, `{"access_token":"SECRET-ACCESS-TOKEN","expires_in":600}`)
	})
	o := newFakeServer(t, bearerOrigin())
	yml := idpClientCredentialsYAML(idp.URL, "", o.URL)
	h := newHarness(t, yml)
	if resp, _ := h.do(http.MethodGet, "/x", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	logs := h.logs.String()
	if !strings.Contains(logs, `"msg":"gateway token fetched","backend":"api","token":"oauth2","cached_for":540000000000`) || strings.Contains(logs, "SECRET-ACCESS-TOKEN") {
		t.Fatalf("logs %s", logs)
	}
	if got := metricSum(t, h, "backline_gateway_requests_total", "", ""); got != 2 { // api and idp
		t.Fatalf("requests counted %v, want 2", got)
	}
}
