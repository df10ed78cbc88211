package main

import (
	"net"
	"strings"
	"testing"
)

// tokenConfig is a gateway whose backend api gets an oauth2 token from idp
// and whose backend svc gets a beta_token_request token from idp; origin is
// where all of them point, and the gateway's own address as well (check
// never opens it). clientID and token are the two templates the tests
// break.
func tokenConfig(origin, clientID, token string) string {
	return `definitions:
  backends:
    idp:
      origin: http://` + origin + `
      beta_health:
        path: /healthz
        interval: 1s
    api:
      origin: http://` + origin + `
      oauth2:
        grant_type: client_credentials
        token_endpoint: http://` + origin + `/token
        client_id: ` + clientID + `
        client_secret: s3cret
        backend: idp
    svc:
      origin: http://` + origin + `
      beta_token_request:
        url: /token
        backend: idp
        form_body:
          grant: x
        token: ` + token + `
        ttl: 10s
      set_request_headers:
        Authorization: Bearer ${beta_token}
gateway:
  address: ` + origin + `
  endpoints:
    - path: /api/**
      proxy:
        backend: api
    - path: /svc/**
      proxy:
        backend: svc
`
}

// check refuses what serve would refuse when it builds the gateway: a
// broken template in an oauth2 block and in a beta_token_request, each
// named by key path and line.
func TestCheckTokenTemplates(t *testing.T) {
	t.Setenv("BACKLINE_TEST_CLIENT", "client")
	const good, goodToken = "${env.BACKLINE_TEST_CLIENT}-1", "${backend_response.json_body.access_token}"
	for _, c := range []struct{ name, clientID, token, want string }{
		{"oauth2 unknown placeholder", "${request.heders.x}", goodToken,
			"definitions.backends.api.oauth2.client_id (line 13): unknown placeholder ${request.heders.x}"},
		{"oauth2 unterminated", "a${env.BACKLINE_TEST_CLIENT", goodToken,
			`definitions.backends.api.oauth2.client_id (line 13): unterminated ${ in "a${env.BACKLINE_TEST_CLIENT"`},
		{"oauth2 reads the request", "${request.headers.x}", goodToken,
			"definitions.backends.api.oauth2.client_id (line 13): must not read the client request"},
		{"token request unknown placeholder", good, "${backend_response.jsonbody.t}",
			"definitions.backends.svc.beta_token_request.token (line 23): unknown placeholder ${backend_response.jsonbody.t}"},
		{"token request unterminated", good, "${backend_response.json_body.t",
			`definitions.backends.svc.beta_token_request.token (line 23): unterminated ${`},
		{"token request unset env", good, "${env.BACKLINE_NO_SUCH_TOKEN_VAR}",
			"definitions.backends.svc.beta_token_request.token (line 23): environment variable BACKLINE_NO_SUCH_TOKEN_VAR is not set"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := writeFile(t, "tokens.yml", tokenConfig("127.0.0.1:9", c.clientID, c.token))
			code, stdout, stderr := backline(t, "check", "--config", path)
			if code != exitFail || stdout != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
			}
			if !strings.Contains(stderr, path+": 1 error(s):\n  "+c.want) {
				t.Errorf("stderr lacks %q:\n%s", c.want, stderr)
			}
		})
	}
	t.Run("valid", func(t *testing.T) {
		path := writeFile(t, "tokens.yml", tokenConfig("127.0.0.1:9", good, goodToken))
		code, stdout, stderr := backline(t, "check", "--config", path)
		if code != exitOK || stderr != "" || !strings.HasPrefix(stdout, "configuration OK: 0 targets, 2 gateway endpoints\n") {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
	})
}

// check builds the gateway without touching the network: no token is
// fetched from the token endpoint, no origin dialed, no beta_health probe
// sent, no listener opened. Everything points at a listener that nothing
// should reach (and whose address check could not listen on); once check
// has returned, a connection of the test's own must be the first one in
// the listener's queue.
func TestCheckTokensNoIO(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	path := writeFile(t, "tokens.yml", tokenConfig(ln.Addr().String(), "client", "${backend_response.json_body.access_token}"))
	code, stdout, stderr := backline(t, "check", "--config", path)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	mine, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer mine.Close()
	first, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if first.RemoteAddr().String() != mine.LocalAddr().String() {
		t.Fatalf("check connected to %s (from %s)", ln.Addr(), first.RemoteAddr())
	}
}

// Under --no-secrets an unset ${env.NAME} in a token block is a warning
// with key path and line, as an unset ${VAR} is; without it, an error.
func TestCheckTokensNoSecrets(t *testing.T) {
	path := writeFile(t, "tokens.yml", tokenConfig("127.0.0.1:9", "${env.BACKLINE_NO_SUCH_CLIENT_ID}", "${backend_response.json_body.access_token}"))
	code, _, stderr := backline(t, "check", "--config", path)
	if code != exitFail || !strings.Contains(stderr, "oauth2.client_id (line 13): environment variable BACKLINE_NO_SUCH_CLIENT_ID is not set") {
		t.Fatalf("check: exit %d\n%s", code, stderr)
	}
	code, stdout, stderr := backline(t, "check", "--no-secrets", "--config", path)
	if code != exitOK || stderr != "" {
		t.Fatalf("check --no-secrets: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	want := "warning: definitions.backends.api.oauth2.client_id (line 13): environment variable BACKLINE_NO_SUCH_CLIENT_ID is not set (--no-secrets: checked with a stand-in)\n"
	if strings.Count(stdout, want) != 1 {
		t.Errorf("stdout lacks %q once:\n%s", want, stdout)
	}
	// A real mistake next to it is still an error.
	bad := writeFile(t, "bad.yml", tokenConfig("127.0.0.1:9", "${env.BACKLINE_NO_SUCH_CLIENT_ID}", "${backend_response.jsonbody}"))
	code, _, stderr = backline(t, "check", "--no-secrets", "--config", bad)
	if code != exitFail || !strings.Contains(stderr, "beta_token_request.token (line 23): unknown placeholder") {
		t.Errorf("check --no-secrets with a bad token: exit %d\n%s", code, stderr)
	}
}

// A refinement compiles its definition's values again: an unset variable
// there is warned about once, where the definition writes it.
func TestCheckNoSecretsRefinedEnvOnce(t *testing.T) {
	path := writeFile(t, "refined.yml", `definitions:
  backends:
    api:
      origin: http://127.0.0.1:9
      set_request_headers:
        X-Key: ${env.BACKLINE_NO_SUCH_KEY}
gateway:
  address: 127.0.0.1:18999
  endpoints:
    - path: /x
      proxy:
        backend:
          label: api
          timeout: 5s
`)
	code, stdout, stderr := backline(t, "check", "--no-secrets", "--config", path)
	if code != exitOK || stderr != "" {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	want := "warning: definitions.backends.api.set_request_headers.X-Key (line 6): environment variable BACKLINE_NO_SUCH_KEY is not set (--no-secrets: checked with a stand-in)\n"
	if strings.Count(stdout, "BACKLINE_NO_SUCH_KEY") != 1 || !strings.Contains(stdout, want) {
		t.Errorf("stdout lacks %q once:\n%s", want, stdout)
	}
}
