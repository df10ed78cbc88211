package gateway

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/config"
)

// wantLoadError expects config.Parse, then New, to refuse yml with every
// string in want (a key path with its line, and the reason).
func wantLoadError(t *testing.T, yml string, want ...string) {
	t.Helper()
	cfg, err := parseForTest(yml)
	if err == nil {
		_, err = New(Options{Config: cfg, Registerer: prometheus.NewRegistry()})
	}
	if err == nil {
		t.Fatalf("no error for\n%s", yml)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("error %q does not contain %q", err, w)
		}
	}
}

func TestOAuth2ConfigErrors(t *testing.T) {
	const ep = "http://127.0.0.1:9/token"
	for _, c := range []struct{ name, block, want string }{
		{"no grant", "        token_endpoint: " + ep + "\n", "definitions.backends.api.oauth2.grant_type (line 5): is required"},
		{"bad grant", "        grant_type: implicit\n        token_endpoint: " + ep + "\n", `oauth2.grant_type (line 6): unsupported grant type "implicit"`},
		{"no endpoint", "        grant_type: client_credentials\n        client_id: a\n        client_secret: b\n", "oauth2.token_endpoint (line 5): is required"},
		{"relative endpoint", "        grant_type: client_credentials\n        token_endpoint: /token\n        client_id: a\n        client_secret: b\n", "oauth2.token_endpoint (line 7): must be an absolute http(s) URL"},
		{"credentials in endpoint", "        grant_type: client_credentials\n        token_endpoint: https://u:PASSWORD1@idp/t\n        client_id: a\n        client_secret: b\n", "oauth2.token_endpoint (line 7): must not contain credentials"},
		{"no secret", "        grant_type: client_credentials\n        token_endpoint: " + ep + "\n        client_id: a\n", "oauth2.client_secret (line 5): is required for grant_type client_credentials"},
		{"password without username", "        grant_type: password\n        token_endpoint: " + ep + "\n        client_id: a\n        client_secret: b\n        password: p\n", "oauth2.username (line 5): is required for grant_type password"},
		{"jwt-bearer without assertion", "        grant_type: urn:ietf:params:oauth:grant-type:jwt-bearer\n        token_endpoint: " + ep + "\n", "oauth2.assertion (line 5): is required"},
		{"assertion with other grant", "        grant_type: client_credentials\n        token_endpoint: " + ep + "\n        client_id: a\n        client_secret: b\n        assertion: x\n", "oauth2.assertion (line 10): is only used with grant_type"},
		{"private_key_jwt without profile", "        grant_type: client_credentials\n        token_endpoint: " + ep + "\n        client_id: a\n        token_endpoint_auth_method: private_key_jwt\n", "oauth2.jwt_signing_profile (line 5): is required for token_endpoint_auth_method private_key_jwt"},
		{"private_key_jwt with hmac", "        grant_type: client_credentials\n        token_endpoint: " + ep + "\n        client_id: a\n        token_endpoint_auth_method: private_key_jwt\n        jwt_signing_profile:\n          signature_algorithm: HS256\n          key: k\n          ttl: 1m\n", "jwt_signing_profile.signature_algorithm (line 11): must be an RS* or ES* algorithm"},
		{"client_secret_jwt with key", "        grant_type: client_credentials\n        token_endpoint: " + ep + "\n        client_id: a\n        client_secret: b\n        token_endpoint_auth_method: client_secret_jwt\n        jwt_signing_profile:\n          signature_algorithm: HS256\n          key: k\n          ttl: 1m\n", "jwt_signing_profile.key (line 13): is not used with client_secret_jwt"},
		{"profile without ttl", "        grant_type: client_credentials\n        token_endpoint: " + ep + "\n        client_id: a\n        client_secret: b\n        token_endpoint_auth_method: client_secret_jwt\n        jwt_signing_profile:\n          signature_algorithm: HS256\n", "jwt_signing_profile.ttl (line 11): is required"},
		{"profile alg header", "        grant_type: urn:ietf:params:oauth:grant-type:jwt-bearer\n        token_endpoint: " + ep + "\n        jwt_signing_profile:\n          signature_algorithm: HS256\n          key: k\n          ttl: 1m\n          headers:\n            alg: none\n", "jwt_signing_profile.headers.alg (line 13): cannot be set"},
		{"bad pem", "        grant_type: client_credentials\n        token_endpoint: " + ep + "\n        client_id: a\n        token_endpoint_auth_method: private_key_jwt\n        jwt_signing_profile:\n          signature_algorithm: RS256\n          key: nope\n          ttl: 1m\n", "oauth2.jwt_signing_profile.key (line 12): the key is not PEM"},
		{"profile not used", "        grant_type: client_credentials\n        token_endpoint: " + ep + "\n        client_id: a\n        client_secret: b\n        jwt_signing_profile:\n          signature_algorithm: HS256\n          key: k\n          ttl: 1m\n", "oauth2.jwt_signing_profile (line 10): is only used with"},
		{"retries", "        grant_type: client_credentials\n        token_endpoint: " + ep + "\n        client_id: a\n        client_secret: b\n        retries: 9\n", "oauth2.retries (line 10): must be 0..5, got 9"},
		{"unknown backend", "        grant_type: client_credentials\n        token_endpoint: " + ep + "\n        client_id: a\n        client_secret: b\n        backend: nope\n", `oauth2.backend (line 10): referenced backend "nope" is not defined`},
		{"self", "        grant_type: client_credentials\n        token_endpoint: " + ep + "\n        client_id: a\n        client_secret: b\n        backend: api\n", "definitions.backends.api (line 3): token fetches form a cycle: api -> api"},
		{"request value", "        grant_type: client_credentials\n        token_endpoint: " + ep + "\n        client_id: ${request.headers.x}\n        client_secret: b\n", "oauth2.client_id (line 8): must not read the client request"},
	} {
		t.Run(c.name, func(t *testing.T) {
			yml := "definitions:\n  backends:\n    api:\n      origin: http://127.0.0.1:9\n      oauth2:\n" + c.block
			wantLoadError(t, yml, c.want)
		})
	}
}

func TestTokenFetchCycle(t *testing.T) {
	yml := `definitions:
  backends:
    a:
      origin: http://127.0.0.1:9
      oauth2:
        grant_type: client_credentials
        token_endpoint: http://127.0.0.1:9/t
        client_id: x
        client_secret: y
        backend: b
    b:
      origin: http://127.0.0.1:9
      beta_token_request:
        url: /t
        backend: a
        token: t
        ttl: 1s
`
	wantLoadError(t, yml, "token fetches form a cycle: a -> b -> a")
}

func TestTokenRequestConfigErrors(t *testing.T) {
	for _, c := range []struct{ name, backend, endpoint, want string }{
		{"beta_token in endpoint", "", "      set_request_headers:\n        X: ${beta_tokens.default}\n",
			"gateway.endpoints[0].set_request_headers.X (line 16): beta_token values are only available in the attributes of a backend with beta_token_request"},
		{"unknown name", "      set_request_headers:\n        X: ${beta_tokens.nope}\n", "",
			`definitions.backends.api.set_request_headers.X (line 10): no beta_token_request named "nope"`},
		{"other backend's token", "      set_request_headers:\n        X: ${backends.idp.beta_tokens.default}\n", "",
			"backends.idp.beta_tokens: only the backend's own tokens are available here"},
		{"response outside token", "      set_request_headers:\n        X: ${backend_response.status}\n", "",
			"backend_response values are only available in a beta_token_request's token and ttl"},
	} {
		t.Run(c.name, func(t *testing.T) {
			yml := `definitions:
  backends:
    api:
      origin: http://127.0.0.1:9
      beta_token_request:
        url: http://127.0.0.1:9/t
        token: ${backend_response.json_body.t}
        ttl: 10s
` + c.backend + `gateway:
  address: 127.0.0.1:18999
  endpoints:
    - path: /x
      proxy:
        backend: api
` + c.endpoint
			wantLoadError(t, yml, c.want)
		})
	}
	for _, c := range []struct{ name, block, want string }{
		{"no token", "        url: http://127.0.0.1:9/t\n        ttl: 1s\n", "beta_token_request.token (line 5): is required"},
		{"bad ttl", "        url: http://127.0.0.1:9/t\n        token: x\n        ttl: 10sec\n", "beta_token_request.ttl (line 8)"},
		{"zero ttl", "        url: http://127.0.0.1:9/t\n        token: x\n        ttl: 0s\n", "beta_token_request.ttl (line 8): must be greater than 0"},
		{"relative url without backend", "        url: /t\n        token: x\n        ttl: 1s\n", "beta_token_request.backend (line 5): is required unless the url is an absolute http(s) URL"},
		{"two bodies", "        url: http://127.0.0.1:9/t\n        body: a\n        form_body:\n          a: b\n        token: x\n        ttl: 1s\n", "beta_token_request.form_body (line 8): set only one of body"},
		{"request value", "        url: http://127.0.0.1:9/t\n        headers:\n          X: ${request.path}\n        token: x\n        ttl: 1s\n", "beta_token_request.headers.X (line 8): must not read the client request"},
		{"labeled bad name", "        a-b:\n          url: http://127.0.0.1:9/t\n          token: x\n          ttl: 1s\n", "beta_token_request.a-b (line 7): token request name contains invalid character(s)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			yml := "definitions:\n  backends:\n    api:\n      origin: http://127.0.0.1:9\n      beta_token_request:\n" + c.block
			wantLoadError(t, yml, c.want)
		})
	}
}

// TestOAuth2InRefinementRefused: child blocks stay with the definition.
func TestOAuth2InRefinementRefused(t *testing.T) {
	for _, key := range []string{"oauth2", "beta_token_request"} {
		wantConfigError(t, refinement("          "+key+":\n            token: x\n"),
			"gateway.endpoints[0].proxy.backend."+key+" (line 13)", `refinement for "api" is not permitted`)
	}
}

func parseForTest(yml string) (*config.Config, error) { return config.Parse([]byte(yml)) }

// TestTokenURLCredentialsNotEchoed: the load error does not repeat the
// password it refuses.
func TestTokenURLCredentialsNotEchoed(t *testing.T) {
	for _, yml := range []string{
		"definitions:\n  backends:\n    api:\n      origin: http://127.0.0.1:9\n      oauth2:\n        grant_type: client_credentials\n        token_endpoint: https://u:PASSWORD1@idp/t\n        client_id: a\n        client_secret: b\n",
		"definitions:\n  backends:\n    api:\n      origin: http://127.0.0.1:9\n      beta_token_request:\n        url: https://u:PASSWORD1@/t\n        token: x\n        ttl: 1s\n",
	} {
		_, err := parseForTest(yml)
		if err == nil || strings.Contains(err.Error(), "PASSWORD1") || !strings.Contains(err.Error(), "must not contain credentials") {
			t.Fatalf("error %v", err)
		}
	}
}

// TestTokenRequestSingleBlockWithoutURL: a single block is recognised by
// any attribute, so its errors name its own keys.
func TestTokenRequestSingleBlockWithoutURL(t *testing.T) {
	yml := "definitions:\n  backends:\n    api:\n      origin: http://127.0.0.1:9\n      beta_token_request:\n        backend: api2\n        ttl: 1s\n"
	wantLoadError(t, yml, "beta_token_request.token (line 5): is required", `beta_token_request.backend (line 6): referenced backend "api2" is not defined`)
}

// TestNewFetchesNoToken: building a gateway (serve, reload, backline
// check) compiles the token blocks but dials nothing; tokens are fetched
// on the first request that needs one.
func TestNewFetchesNoToken(t *testing.T) {
	cfg, err := parseForTest(`definitions:
  backends:
    api:
      origin: http://127.0.0.1:9
      oauth2:
        grant_type: client_credentials
        token_endpoint: http://127.0.0.1:9/token
        client_id: a
        client_secret: b
    svc:
      origin: http://127.0.0.1:9
      beta_token_request:
        url: http://127.0.0.1:9/token
        token: ${backend_response.json_body.t}
        ttl: 10s
      set_request_headers:
        Authorization: Bearer ${beta_token}
gateway:
  address: 127.0.0.1:18999
  endpoints:
    - path: /api
      proxy:
        backend: api
    - path: /svc
      proxy:
        backend: svc
`)
	if err != nil {
		t.Fatal(err)
	}
	var dials atomic.Int32
	dial := func(context.Context, string, string) (net.Conn, error) {
		dials.Add(1)
		return nil, errors.New("no dialing in this test")
	}
	g, err := New(Options{Config: cfg, Registerer: prometheus.NewRegistry(), Dial: dial})
	if err != nil {
		t.Fatal(err)
	}
	g.Close()
	if n := dials.Load(); n != 0 {
		t.Fatalf("New dialed %d time(s)", n)
	}
}
