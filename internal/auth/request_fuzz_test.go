package auth

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// maxFuzzRequest bounds one fuzz input: beyond the 64 KiB body limit, and
// small enough that a run stays quick.
const maxFuzzRequest = 128 << 10

// FuzzParseAuthRequest feeds raw HTTP requests to the parsers of all three
// endpoints. Whatever comes in: no panic; an accepted request carries no
// credential that could break a protocol line or exceed the limits; a
// refusal is a requestError whose reason is one bounded line.
func FuzzParseAuthRequest(f *testing.F) {
	nginx := "GET /api/v1/auth/nginx HTTP/1.0\r\nHost: 127.0.0.1\r\nAuth-Method: plain\r\nAuth-User: alice\r\n" +
		"Auth-Pass: p%20a\"s\\s%20w\xc3\xb6rd%25+&=\r\nAuth-Protocol: imap\r\nAuth-Login-Attempt: 1\r\nClient-IP: 192.0.2.7\r\n" +
		"Auth-SSL: on\r\nAuth-SSL-Protocol: TLSv1.3\r\n\r\n"
	json := func(body string) string {
		return "POST /api/v1/auth/json HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
			strconv.Itoa(len(body)) + "\r\n\r\n" + body
	}
	for _, seed := range []string{
		nginx,
		strings.Replace(nginx, "/nginx", "/header", 1),
		strings.Replace(nginx, "Auth-Pass: p%20a", "Auth-Pass: pw%0d%0aDELE 1\r\nX-Auth-Pass: a", 1),
		strings.Replace(nginx, "Auth-User: alice", "Auth-User: alice\r\nAuth-User: bob", 1),
		strings.Replace(nginx, "HTTP/1.0", "?mode=no-auth&cache=0 HTTP/1.0", 1),
		strings.Replace(nginx, "Auth-Login-Attempt: 1", "Auth-Login-Attempt: "+strings.Repeat("9", 300), 1),
		"GET /api/v1/auth/header HTTP/1.1\r\nHost: x\r\nAuth-User: alice\r\nAuth-Pass: cHcNCkRFTEUgMQ\r\nX-Auth-Password-Encoded: 1\r\n\r\n",
		json(`{"username":"alice","password":"s3cr3t","protocol":"imap","auth_login_attempt":"2"}`),
		json(`{"username":"alice","password":"pw\r\nDELE 1"}`),
		json(`{"username":"alice","password":"x","USERNAME":"bob"}`),
		json(`{"username":`),
		json(`{"auth_login_attempt":{"a":[1,2,{"b":null}]}}`),
		json(`null`),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) > maxFuzzRequest {
			t.Skip()
		}
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return
		}
		var req *Request
		switch r.URL.Path {
		case "/api/v1/auth/json":
			req, err = parseJSONRequest(httptest.NewRecorder(), r, defaultMaxBodyBytes)
		case "/api/v1/auth/header":
			req, err = parseHeaderRequest(r, "header")
		default:
			req, err = parseHeaderRequest(r, "nginx")
		}
		if err != nil {
			var re *requestError
			if !errors.As(err, &re) {
				t.Fatalf("refusal is not a requestError: %v", err)
			}
			msg := reasonText(re.msg)
			if len(msg) > maxReasonBytes || strings.ContainsAny(msg, "\r\n\x00") {
				t.Fatalf("reason of %d bytes or with a line break: %q", len(msg), msg)
			}
			// A refused credential is answered as a failed login, which
			// needs the parsed request (login attempt, protocol).
			if re.credentials && req == nil {
				t.Fatalf("credential refusal %q without the request", msg)
			}
			return
		}
		if strings.ContainsAny(req.Username+req.Password, lineBreakChars) {
			t.Fatalf("accepted a credential with CR, LF or NUL: %q / %q", req.Username, req.Password)
		}
		if len(req.Username) > maxUsernameBytes || len(req.Password) > maxPasswordBytes {
			t.Fatalf("accepted a credential over the limits: %d / %d bytes", len(req.Username), len(req.Password))
		}
		if !req.NoAuth && (req.Username == "" || req.Password == "") {
			t.Fatalf("accepted an empty credential outside no-auth")
		}
		if r.Header.Get("Auth-Pass") != "" {
			t.Fatalf("the password still travels with the request headers")
		}
	})
}
