package redact

import (
	"bufio"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

func TestSensitiveHeader(t *testing.T) {
	for name, want := range map[string]bool{
		"Authorization": true, "Proxy-Authorization": true, "Cookie": true, "Set-Cookie": true,
		"X-Api-Key": true, "X-API-KEY": true, "x_api_key": true, "X-Apikey": true,
		"X-Auth-Token": true, "X-Vault-Token": true, "X-Amz-Security-Token": true, "X-Csrf-Token": true,
		"X-Client-Secret": true, "X-Session-Id": true, "X-Signature": true, "X-Hub-Signature-256": true,
		"X-Password": true, "X-Passwd": true, "X-Credentials": true, "X-Jwt-Assertion": true,
		"sEt-CoOkIe": true, "Set\x01Cookie": true, "Set Cookie": true, "Cook\x00ie": true, "AUTHORIZATION": true,
		"Host": false, "User-Agent": false, "Accept": false, "X-Probe": false, "X-Forwarded-For": false,
		"Content-Type": false, "Location": false, "Www-Authenticate": false, "Proxy-Authenticate": false,
		"Keep-Alive": false, "": false,
		"DPoP": true, "dpop": true, "X-Registry-Auth": true, "X-Registry-Config": true, "X-GitHub-OTP": true,
		"X-Shopify-Hmac-Sha256": true, "Grpc-Metadata-Macaroon": true, "X-Hook-Secret": true, "Stripe-Signature": true,
		"DPoP-Nonce": false, "Sec-WebSocket-Key": false, "Sec-WebSocket-Accept": false, "Idempotency-Key": false,
		"X-Dovecot-Session": false, "X-Session": true,
	} {
		if got := SensitiveHeader(name); got != want {
			t.Errorf("SensitiveHeader(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestHeaderLine(t *testing.T) {
	for line, want := range map[string]string{
		"Set-Cookie: sid=SECRET":        "Set-Cookie: " + Placeholder,
		"set-cookie:sid=SECRET":         "set-cookie: " + Placeholder,
		"X-Amz-Security-Token: SECRET":  "X-Amz-Security-Token: " + Placeholder,
		"Set Cookie: SECRET":            "Set Cookie: " + Placeholder,
		"Set-Cookie SECRET":             Placeholder,
		"Content-Type: text/plain":      "Content-Type: text/plain",
		"garbage without a colon":       "garbage without a colon",
		"Www-Authenticate: Basic realm": "Www-Authenticate: Basic realm",
	} {
		if got := HeaderLine(line); got != want {
			t.Errorf("HeaderLine(%q) = %q, want %q", line, got, want)
		}
	}
}

// TestErrorTextOfRealParses feeds hostile header lines to net/http, which
// quotes them in its errors, and checks that no secret survives.
func TestErrorTextOfRealParses(t *testing.T) {
	for _, head := range []string{
		"Set-Cookie: sid=SECRET\x01\r\n",
		"sEt-cOoKiE: sid=SECRET\x7f\r\n",
		"Set\x01Cookie: sid=SECRET\r\n",
		"X-Amz-Security-Token: SECRET\x00\r\n",
		"Set-Cookie: ok=1\r\nSet-Cookie: sid=SECRET\x02\r\n",
		"Set-Cookie SECRET\r\n",
		" Set-Cookie: SECRET\r\n",
		"X-Plain: a\r\nAuthorization\x0b: Bearer SECRET\r\n",
	} {
		raw := "HTTP/1.1 200 OK\r\n" + head + "\r\n"
		_, err := http.ReadResponse(bufio.NewReader(strings.NewReader(raw)), nil)
		if err == nil {
			t.Fatalf("%q parsed; the test needs a malformed head", head)
		}
		got := ErrorText(err.Error())
		if strings.Contains(got, "SECRET") {
			t.Errorf("ErrorText(%q) = %q", err, got)
		}
		if !strings.Contains(got, "malformed MIME header") {
			t.Errorf("ErrorText(%q) = %q lost the reason", err, got)
		}
	}
}

func TestErrorTextKeepsOtherText(t *testing.T) {
	for in, want := range map[string]string{
		`dial tcp 127.0.0.1:1: connection refused`:                                                      `dial tcp 127.0.0.1:1: connection refused`,
		`malformed MIME header line: "X-Bad\x01: value"`:                                                `malformed MIME header line: "X-Bad\x01: value"`,
		`a: malformed MIME header line: "Cookie: s=1" and again malformed MIME header line: "Token: t"`: `a: malformed MIME header line: "Cookie: <redacted>" and again malformed MIME header line: "Token: <redacted>"`,
		`malformed MIME header line: "Cookie: cut off`:                                                  `malformed MIME header line: <redacted>`,
	} {
		if got := ErrorText(in); got != want {
			t.Errorf("ErrorText(%q) = %q, want %q", in, got, want)
		}
	}
	if got := ErrorText(errors.New("x").Error()); got != "x" {
		t.Errorf("ErrorText(x) = %q", got)
	}
}

func FuzzErrorText(f *testing.F) {
	f.Add("Set-Cookie: sid=SECRET\x01")
	f.Add("Authorization SECRET")
	f.Add("X-Plain: v")
	f.Fuzz(func(t *testing.T, line string) {
		const marker = "malformed MIME header line: "
		got := ErrorText("before " + marker + strconv.Quote(line) + " after")
		// The quoted line by its header name, then URL credentials over the
		// whole text (which reads the quoted form's escapes).
		want := Text("before " + marker + strconv.Quote(HeaderLine(line)) + " after")
		if got != want {
			t.Fatalf("ErrorText = %q, want %q", got, want)
		}
		name, _, hasColon := strings.Cut(line, ":")
		redacted := HeaderLine(line)
		switch {
		case hasColon && SensitiveHeader(name) && redacted != name+": "+Placeholder:
			t.Fatalf("HeaderLine(%q) = %q shows the value", line, redacted)
		case !hasColon && SensitiveHeader(line) && redacted != Placeholder:
			t.Fatalf("HeaderLine(%q) = %q", line, redacted)
		}
	})
}
