package gateway

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// A token fetch through an origin-less oauth2 backend that sends
// proxy_protocol takes its origin from token_endpoint and is refused
// like any request through an environment proxy (what config's warning
// now names at oauth2.token_endpoint): the token endpoint sees nothing.
func TestReviewTokenFetchRefusedThroughEnvironmentProxy(t *testing.T) {
	idp := newFakeServer(t, tokenJSON(`,"expires_in":3600`))
	o := newFakeServer(t, bearerOrigin())
	h := newHarness(t, oauthYAML(o.URL, fmt.Sprintf(`        grant_type: client_credentials
        token_endpoint: %s/oauth/token
        client_id: id
        client_secret: sec
        backend:
          proxy_protocol: v2
`, idp.URL)))
	for _, rt := range h.gw.runtimes {
		rt.transports.proxyFromEnv = func(*http.Request) (*url.URL, error) { return url.Parse("http://127.0.0.1:1") }
	}
	resp, body := h.do(http.MethodGet, "/x", nil, nil)
	if resp.StatusCode == http.StatusOK {
		t.Fatalf("status 200 (%q): the token fetch went through", body)
	}
	if n := len(idp.requests()); n != 0 {
		t.Errorf("the token endpoint saw %d requests", n)
	}
	if logs := h.logs.String(); !strings.Contains(logs, "NO_PROXY") {
		t.Errorf("the log does not name NO_PROXY:\n%s", logs)
	}
}
