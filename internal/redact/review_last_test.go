package redact

import (
	"net/url"
	"strings"
	"testing"
)

// A proxy written without its scheme ("user:password@proxy:3128", as
// HTTP_PROXY often is) that net/url cannot parse: the error quotes the
// value, and the loose user-info search looked only after "://".
func TestReviewSchemelessURLHidesThePassword(t *testing.T) {
	for _, raw := range []string{
		"007:SECRET x@proxy:3128",
		"1user:pa%zzSECRET@proxy:3128",
		"1user:SECRET/x#y@proxy:3128",
		" http://u:SECRET@proxy:3128",
	} {
		_, err := url.Parse(raw)
		if err == nil {
			t.Fatalf("%q parses", raw)
		}
		for name, got := range map[string]string{"URL": URL(raw), "URLParseError": URLParseError(raw, err)} {
			if strings.Contains(got, "SECRET") {
				t.Errorf("%s(%q) = %q", name, raw, got)
			}
		}
	}
}

// Values without a bearer element stay byte-identical, whatever their
// spacing; bearer elements are withheld wherever they stand, the others
// and the separators stay.
func TestReviewSubprotocolRedaction(t *testing.T) {
	const tok = "base64url.bearer.authorization.k8s.io.SECRETTOKEN"
	for _, v := range []string{"", " ", ",", "v4.channel.k8s.io", " graphql-ws ,\t, x ,", "a,,b", "Bear-er"} {
		if got := HeaderValue("Sec-WebSocket-Protocol", v); got != v {
			t.Errorf("HeaderValue(%q) = %q", v, got)
		}
		if got := HeaderLine("Sec-WebSocket-Protocol:" + v); got != "Sec-WebSocket-Protocol:"+v {
			t.Errorf("HeaderLine(%q) = %q", v, got)
		}
	}
	for _, v := range []string{
		tok,
		"v4.channel.k8s.io, " + tok,
		"v4.channel.k8s.io," + tok + ",base64.channel.k8s.io",
		"  " + tok + "  ,\tv4.channel.k8s.io",
		",," + tok + ",,",
		"BASE64URL.BEARER.AUTHORIZATION.K8S.IO.SECRETTOKEN",
		tok + "," + tok,
	} {
		for _, name := range []string{"Sec-WebSocket-Protocol", "sec-websocket-protocol", "SEC_WEBSOCKET_PROTOCOL"} {
			for _, got := range []string{HeaderValue(name, v), HeaderLine(name + ": " + v)} {
				if strings.Contains(strings.ToUpper(got), "SECRETTOKEN") {
					t.Errorf("%s: %q -> %q", name, v, got)
				}
				if strings.Contains(v, "v4.channel.k8s.io") && !strings.Contains(got, "v4.channel.k8s.io") {
					t.Errorf("%s: %q -> %q lost the other subprotocol", name, v, got)
				}
			}
		}
	}
	// Duplicated lines: each line on its own.
	for _, line := range []string{"Sec-WebSocket-Protocol: " + tok, "Sec-WebSocket-Protocol:" + tok, "Sec-WebSocket-Protocol :" + tok} {
		if got := HeaderLine(line); strings.Contains(got, "SECRETTOKEN") {
			t.Errorf("HeaderLine(%q) = %q", line, got)
		}
	}
}
