package main

import (
	"strings"
	"testing"
)

// backline check under an HTTP_PROXY with a password, for a gateway whose
// backend sends proxy_protocol to an origin the proxy applies to: the
// warning names the variable, the key and its line and the host to
// exempt; the password shows nowhere, and the file still checks OK.
func TestReviewCheckWarnsOfEnvProxyForProxyProtocol(t *testing.T) {
	const secret = "Pr0xyS3cret"
	t.Setenv("HTTP_PROXY", "http://puser:"+secret+"@proxy.example:3128")
	t.Setenv("http_proxy", "http://puser:"+secret+"@proxy.example:3128")
	t.Setenv("HTTPS_PROXY", "puser:"+secret+"@proxy.example:3128")
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")
	path := writeFile(t, "pp.yml", `definitions:
  backends:
    api:
      proxy_protocol: v2
      origin: http://origin.example:8080
gateway:
  address: 127.0.0.1:18999
  endpoints:
    - path: /u
      proxy:
        backend: api
`)
	code, stdout, stderr := backline(t, "check", "--config", path)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	want := "warning: definitions.backends.api.origin (line 5): proxy_protocol: HTTP_PROXY in the environment applies to origin.example:8080"
	if !strings.Contains(stdout, want) || !strings.Contains(stdout, "add origin.example to NO_PROXY") {
		t.Errorf("stdout lacks %q:\n%s", want, stdout)
	}
	if strings.Contains(stdout+stderr, secret) {
		t.Errorf("the proxy's password is shown:\n%s%s", stdout, stderr)
	}
}
