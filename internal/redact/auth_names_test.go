package redact

import "testing"

// nginx's auth_http answers are what an operator probing such an endpoint
// reads: their names start with Auth- but only Auth-Pass holds a secret.
func TestAuthHTTPFieldsStayReadableButThePassword(t *testing.T) {
	for _, name := range []string{"Auth-Status", "Auth-Server", "Auth-Port", "Auth-Wait", "Auth-Error-Code", "Auth-User", "Auth-Method", "Access-Control-Allow-Credentials", "X-Auth-User"} {
		if SensitiveHeader(name) {
			t.Errorf("%s is redacted", name)
		}
	}
	for _, name := range []string{"Auth-Pass", "auth-pass", "Authorization", "Proxy-Authorization", "X-Auth", "x_auth", "Auth", "X-Auth-Token", "X-Auth-Key", "X-Password", "Passwd", "Set-Cookie"} {
		if !SensitiveHeader(name) {
			t.Errorf("%s is shown", name)
		}
	}
}
