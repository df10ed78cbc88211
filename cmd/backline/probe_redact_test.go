package main

import (
	"net"
	"strings"
	"testing"

	"github.com/backline/backline/internal/testutil"
)

// fakeHTTPOnce answers every connection with response, after reading the
// request head; it returns the port.
func fakeHTTPOnce(t *testing.T, response string) string {
	_, port, _ := net.SplitHostPort(testutil.ServeCannedHTTP(t, response))
	return port
}

func httpTargetConfig(port string) string {
	return `auth:
  services:
    enabled: [backend_health_checks]
    backend_health_checks:
      targets:
        - name: web
          protocol: http
          host: 127.0.0.1
          port: ` + port + `
          deep_check: true
          request_uri: /healthz
          headers:
            X-Api-Key: SECRET-request-1
            x-amz-security-token: SECRET-request-2
            X-Signature: SECRET-request-3
            X-Probe: visible-value
`
}

// backline probe prints the request and the server's answer, but no value
// of a header named like a credential, whichever side sent it, in text or
// JSON, healthy or not: the names stay, the values are <redacted>.
func TestProbeNeverPrintsHeaderSecrets(t *testing.T) {
	healthy := "HTTP/1.1 200 OK\r\n" +
		"Set-Cookie: sid=SECRET-cookie-1; HttpOnly\r\n" +
		"set-cookie: other=SECRET-cookie-2\r\n" +
		"X-Amz-Security-Token: SECRET-resp-1\r\n" +
		"x_api_KEY: SECRET-resp-2\r\n" +
		"X-Session-ID: SECRET-resp-3\r\n" +
		"Www-Authenticate: Basic realm=\"visible-realm\"\r\n" +
		"X-Served-By: visible-server\r\n" +
		"Content-Length: 0\r\n\r\n"
	port := fakeHTTPOnce(t, healthy)
	path := writeFile(t, "web.yml", httpTargetConfig(port))
	for _, args := range [][]string{
		{"probe", "--config", path, "--target", "web"},
		{"probe", "--config", path, "--target", "web", "--json"},
		{"probe", "--config", path, "--all"},
	} {
		code, stdout, stderr := backline(t, args...)
		if code != exitOK {
			t.Fatalf("%q: exit %d\n%s\n%s", args, code, stdout, stderr)
		}
		if strings.Contains(stdout+stderr, "SECRET") {
			t.Errorf("%q shows a secret:\n%s\n%s", args, stdout, stderr)
		}
		if args[len(args)-1] == "web" {
			for _, want := range []string{"X-Api-Key: <redacted>", "X-Amz-Security-Token: <redacted>", "X-Signature: <redacted>",
				"X-Probe: visible-value", "Set-Cookie: <redacted>", "X_api_key: <redacted>", "X-Session-Id: <redacted>",
				"Www-Authenticate: Basic realm=", "X-Served-By: visible-server"} {
				if !strings.Contains(stdout, want) {
					t.Errorf("%q lacks %q:\n%s", args, want, stdout)
				}
			}
			if n := strings.Count(stdout, "Set-Cookie: <redacted>"); n != 2 {
				t.Errorf("want both Set-Cookie lines, got %d:\n%s", n, stdout)
			}
		}
	}
}

// A malformed header line is quoted in the check's error (stdout here; the
// status API, the logs and ctl in the daemon): its value is withheld when
// its name is sensitive, however the name is written.
func TestProbeErrorNeverQuotesHeaderSecrets(t *testing.T) {
	for _, line := range []string{
		"Set-Cookie: sid=SECRET\x01",
		"sEt-CoOkIe: sid=SECRET\x7f",
		"Set\x01Cookie: sid=SECRET",
		"X-Auth-Token: SECRET\x00",
		"Authorization SECRET",
	} {
		port := fakeHTTPOnce(t, "HTTP/1.1 200 OK\r\nX-Ok: 1\r\n"+line+"\r\nContent-Length: 0\r\n\r\n")
		path := writeFile(t, "web.yml", httpTargetConfig(port))
		for _, extra := range [][]string{nil, {"--json"}} {
			code, stdout, stderr := backline(t, append([]string{"probe", "--config", path, "--target", "web"}, extra...)...)
			if code != exitFail {
				t.Fatalf("%q: exit %d\n%s\n%s", line, code, stdout, stderr)
			}
			if strings.Contains(stdout+stderr, "SECRET") {
				t.Errorf("%q: output shows the secret:\n%s\n%s", line, stdout, stderr)
			}
			if !strings.Contains(stdout, "malformed MIME header") {
				t.Errorf("%q: the reason is gone:\n%s", line, stdout)
			}
		}
	}
}

// The daemon checking a server that sends a malformed Set-Cookie line: the
// quoted line reaches last_error in the status API, the status page, the
// logs and ctl, each without the cookie's value.
func TestDaemonNeverShowsHeaderSecrets(t *testing.T) {
	port := fakeHTTPOnce(t, "HTTP/1.1 200 OK\r\nSet-Cookie: ok=SECRET-1\r\nsEt-CoOkIe: sid=SECRET-2\x01\r\nContent-Length: 0\r\n\r\n")
	yaml := "server:\n  log_level: debug\n" + strings.Replace(httpTargetConfig(port),
		"      targets:\n", "      connect_interval: 1s\n      deep_interval: 1s\n      targets:\n", 1)
	d := startDaemon(t, yaml)
	base := "http://" + d.api
	var api string
	waitFor(t, "the check's error in the API", func() bool {
		_, api = httpGet(t, base+"/api/v1/backends")
		return strings.Contains(api, "malformed MIME header")
	})
	_, page := httpGet(t, base+"/")
	_, metrics := httpGet(t, base+"/metrics")
	code, ctlOut, ctlErr := backline(t, "ctl", "--api", base, "show", "web")
	if code != exitOK {
		t.Fatalf("ctl show: exit %d\n%s\n%s", code, ctlOut, ctlErr)
	}
	for where, text := range map[string]string{"API": api, "status page": page, "metrics": metrics,
		"log": d.logs.String(), "ctl": ctlOut + ctlErr} {
		if strings.Contains(text, "SECRET") {
			t.Errorf("%s shows a secret:\n%s", where, text)
		}
	}
	if !strings.Contains(api, `Set-Cookie: \u003credacted\u003e`) && !strings.Contains(api, `Set-Cookie: <redacted>`) {
		t.Errorf("API error lost the header name:\n%s", api)
	}
}
