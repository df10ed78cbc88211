package gateway

import "testing"

// A client's Connection header names fields of its own request that end
// at this hop. It must not reach the fields the gateway itself sets for
// the origin: "Connection: X-Forwarded-Proto" from an untrusted client
// deleted the X-Forwarded-Proto (and X-Forwarded-Host) the gateway had
// just written, so the origin saw none instead of the gateway's own view,
// and it deleted a header an operator's set_request_headers wrote (Go's
// httputil.ReverseProxy has Rewrite for the same reason).
func TestClientConnectionTokensKeepGatewayHeaders(t *testing.T) {
	o := newEcho(t)
	h := newHarness(t, gatewayYAML(o.URL, "      set_request_headers:\n        X-Origin-Key: k1\n",
		"    - path: /x\n      set_request_headers:\n        X-Endpoint-Key: k2\n      proxy:\n        backend: api\n"))
	a := rawRequest(t, h, "GET /x HTTP/1.1\r\nHost: gw.test\r\n"+
		"X-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.example\r\nX-Origin-Key: forged\r\nX-Endpoint-Key: forged\r\nX-Hop: 1\r\n"+
		"Connection: X-Forwarded-Proto, X-Forwarded-Host, X-Origin-Key, X-Endpoint-Key, X-Hop, close\r\n\r\n")
	e := decodeEcho(t, a.body)
	wantForwarded(t, e, "http", "gw.test")
	if got := e.Header["X-Origin-Key"]; len(got) != 1 || got[0] != "k1" {
		t.Errorf("X-Origin-Key = %q, want the operator's k1", got)
	}
	if got := e.Header["X-Endpoint-Key"]; len(got) != 1 || got[0] != "k2" {
		t.Errorf("X-Endpoint-Key = %q, want the operator's k2", got)
	}
	// The client's own hop-by-hop field still ends here.
	if got, ok := e.Header["X-Hop"]; ok {
		t.Errorf("X-Hop reached the origin: %q", got)
	}
}
