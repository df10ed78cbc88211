package redact

import (
	"strings"
	"testing"
)

// Kubernetes' API server takes a bearer token as a WebSocket subprotocol
// (browsers cannot send Authorization on an upgrade): the token element is
// withheld, the others stay readable, in a value and in a header line.
func TestSubprotocolBearerTokenWithheld(t *testing.T) {
	const token = "ZXlKaGJHY2lPaUpTVXpJMU5pSXNJbXRwWkNJNklp"
	value := "base64url.bearer.authorization.k8s.io." + token + ", v4.channel.k8s.io"
	for _, got := range []string{
		HeaderValue("Sec-WebSocket-Protocol", value),
		HeaderLine("Sec-WebSocket-Protocol: " + value),
		HeaderValue("sec-websocket-protocol", "v4.channel.k8s.io, BASE64URL.BEARER.authorization.k8s.io."+token),
	} {
		if strings.Contains(got, token) {
			t.Errorf("token shown: %q", got)
		}
		if !strings.Contains(got, "v4.channel.k8s.io") || !strings.Contains(got, Placeholder) {
			t.Errorf("want the other element and the placeholder: %q", got)
		}
	}
	if got := HeaderValue("Sec-WebSocket-Protocol", "graphql-ws"); got != "graphql-ws" {
		t.Errorf("plain subprotocol changed: %q", got)
	}
}

// Short names are matched whole, not inside other words.
func TestShortParamNamesWhole(t *testing.T) {
	for name, want := range map[string]bool{"pw": true, "PIN": true, "creds": true, "bearer": true,
		"shipping": false, "mapping": false, "pwa_mode": false} {
		if got := SensitiveParam(name); got != want {
			t.Errorf("SensitiveParam(%q) = %v, want %v", name, got, want)
		}
	}
}
