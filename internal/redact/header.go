// Package redact is the one rule for which HTTP header values and URL
// parameters backline never prints or logs: probe transcripts, `backline
// probe`, errors that quote a server's header line or a URL (status API,
// logs, ctl), the gateway's error and access logs all ask it. The name
// always stays visible, so an operator sees that the header or parameter
// was there.
package redact

import (
	"strconv"
	"strings"
)

// Placeholder stands in for a withheld value.
const Placeholder = "<redacted>"

// sensitiveWords mark a header whose value is a credential when the name,
// lowercased and stripped to letters and digits, contains one of them:
// "X-Api_Key", "x-amz-security-token", "Set-Cookie" and "Set\x01Cookie"
// all match, whatever separators or case a client or hostile server chose.
var sensitiveWords = []string{
	"authorization", // and Proxy-Authorization; not "auth": nginx's Auth-Status, Auth-Server, Auth-Wait are what an operator reads
	"cookie",
	"token",
	"secret",
	"signature",
	"pass", // password, passwd, nginx auth_http's Auth-Pass
	"key",  // X-Access-Key, Private-Key: keys are what they hold
	"session",
	"credential",
	"jwt",
	"hmac",     // X-Shopify-Hmac-Sha256: a webhook's HMAC, named without "signature"
	"macaroon", // Grpc-Metadata-Macaroon (LND): a bearer credential
}

// readableHeaders hold no credential although a sensitive word is in
// their name, and are what an operator reads: challenges name an auth
// scheme and its realm and say why a check got its 401; CORS says "true";
// a WebSocket key is a public nonce (RFC 6455 §4.1) and an idempotency key
// a request id, not a secret; Dovecot's session id correlates its log
// lines (a filter script sets and reads it in `backline lua test`).
var readableHeaders = map[string]bool{"wwwauthenticate": true, "proxyauthenticate": true,
	"accesscontrolallowcredentials": true, "secwebsocketkey": true, "idempotencykey": true,
	"xdovecotsession": true}

// credentialNames are names that hold a credential without a sensitive
// word in them: X-Auth carries an API token at several providers; DPoP a
// signed proof of possession sent with an access token (RFC 9449; its
// DPoP-Nonce is the server's challenge and stays readable); Docker's
// X-Registry-Auth and X-Registry-Config registry user names and passwords
// (base64 JSON); X-GitHub-OTP a one-time password.
var credentialNames = map[string]bool{"xauth": true, "auth": true, "dpop": true,
	"xregistryauth": true, "xregistryconfig": true, "xgithubotp": true, "xotp": true}

// SensitiveHeader tells whether the value of the header called name must
// not be shown. Any case, any separators, control characters ignored.
func SensitiveHeader(name string) bool {
	n := fold(name)
	if readableHeaders[n] {
		return false
	}
	if credentialNames[n] {
		return true
	}
	for _, w := range sensitiveWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// HeaderValue returns value, or Placeholder when name is sensitive. A
// value shown still has its URL credentials withheld (Text): a Location
// or Refresh that carries ?code=… or #access_token=… keeps its URL.
func HeaderValue(name, value string) string {
	if SensitiveHeader(name) {
		return Placeholder
	}
	if fold(name) == "secwebsocketprotocol" {
		value = subprotocols(value)
	}
	return Text(value)
}

// subprotocols withholds the elements of a Sec-WebSocket-Protocol list
// that carry a bearer token: browsers cannot set Authorization on a
// WebSocket, so Kubernetes' API server (and others after it) take the
// token as a subprotocol, "base64url.bearer.authorization.k8s.io.<token>".
// The other elements ("v4.channel.k8s.io", "graphql-ws") stay readable.
func subprotocols(value string) string {
	if !strings.Contains(strings.ToLower(value), "bearer") {
		return value
	}
	parts := strings.Split(value, ",")
	for i, p := range parts {
		if strings.Contains(strings.ToLower(p), "bearer") {
			parts[i] = " " + Placeholder
			if i == 0 {
				parts[i] = Placeholder
			}
		}
	}
	return strings.Join(parts, ",")
}

// HeaderLine redacts one "Name: value" line as a server sent it. A line
// without a colon has no name to keep apart from its value: it is withheld
// whole when any part of it reads like a sensitive name.
func HeaderLine(line string) string {
	name, _, ok := strings.Cut(line, ":")
	if !ok {
		if SensitiveHeader(line) {
			return Placeholder
		}
		return Text(line)
	}
	if SensitiveHeader(name) {
		return name + ": " + Placeholder
	}
	if fold(name) == "secwebsocketprotocol" {
		_, value, _ := strings.Cut(line, ":")
		return Text(name + ":" + subprotocols(value))
	}
	return Text(line)
}

// quotedLineMarkers precede the header line Go's net/textproto quotes
// (with %q) in the errors of http.ReadResponse and every client built on
// it: the only way a header value reaches an error's text.
var quotedLineMarkers = []string{
	"malformed MIME header line: ",
	"malformed MIME header: missing colon: ",
	"malformed MIME header initial line: ",
}

// ErrorText redacts the header lines a net/http or net/textproto error
// quotes, and the URL credentials any error may quote (net/http's client
// quotes the request URL, query included: `Get "https://h/?access_token=…": …`),
// so the error can go to logs, the status API and the terminal.
func ErrorText(text string) string {
	for _, marker := range quotedLineMarkers {
		text = redactQuotedAfter(text, marker, HeaderLine)
	}
	return Text(redactQuotedAfter(text, unsolicitedMarker, message))
}

func redactQuotedAfter(text, marker string, redactQuoted func(string) string) string {
	var b strings.Builder
	rest := text
	for {
		i := strings.Index(rest, marker)
		if i < 0 {
			if b.Len() == 0 {
				return text
			}
			b.WriteString(rest)
			return b.String()
		}
		b.WriteString(rest[:i+len(marker)])
		rest = rest[i+len(marker):]
		quoted, err := strconv.QuotedPrefix(rest)
		if err != nil {
			// Not the quoted form expected (cut short, or another
			// library's text): nothing after the marker can be trusted.
			b.WriteString(Placeholder)
			return b.String()
		}
		line, _ := strconv.Unquote(quoted)
		b.WriteString(strconv.Quote(redactQuoted(line)))
		rest = rest[len(quoted):]
	}
}

// fold lowercases name and keeps only its ASCII letters and digits.
func fold(name string) string {
	b := make([]byte, 0, len(name))
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b = append(b, c)
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
		}
	}
	return string(b)
}
