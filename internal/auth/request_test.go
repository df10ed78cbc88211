package auth

import (
	"encoding/base64"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestPercentDecodeTranscriptBytes(t *testing.T) {
	cases := []struct{ in, want string }{
		// mail-server-transcripts §2.1: password 'p a"s\s wörd%+&=' as nginx sends it.
		{"p%20a\"s\\s%20w\xc3\xb6rd%25+&=", "p a\"s\\s w\xc3\xb6rd%+&="},
		{"healthcheck-password", "healthcheck-password"},
		{"a+b", "a+b"},
		{"%41%62%2b", "Ab+"},
		{"%", ""},
		{"%g1", ""},
		{"100%", ""},
	}
	for _, c := range cases {
		got, err := percentDecode(c.in)
		if c.want == "" {
			if err == nil {
				t.Errorf("percentDecode(%q) = %q, want an error", c.in, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("percentDecode(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestParseHeaderRequest(t *testing.T) {
	r := httptest.NewRequest("GET", "/api/v1/auth/nginx?mode=no-auth&cache=0", nil)
	for k, v := range map[string]string{
		"Auth-Method": "plain", "Auth-User": "odd-user", "Auth-Pass": "p%20a\"s\\s%20w\xc3\xb6rd%25+&=",
		"Auth-Protocol": "imap", "Auth-Login-Attempt": "2", "Client-IP": "127.0.0.1", "Client-Host": "[UNAVAILABLE]",
		"X-Client-Port": "40000", "X-Local-IP": "127.0.0.2", "X-Auth-Port": "143", "X-Client-ID": "cid",
		"Auth-SSL": "on", "Auth-SSL-Protocol": "TLSv1.3", "Auth-SSL-Cipher": "TLS_AES_256_GCM_SHA384",
	} {
		r.Header.Set(k, v)
	}
	req, err := parseHeaderRequest(r, "nginx")
	if err != nil {
		t.Fatal(err)
	}
	want := Request{
		Username: "odd-user", Password: "p a\"s\\s w\xc3\xb6rd%+&=", Protocol: "imap", Method: "plain", Service: "nginx",
		ClientIP: "127.0.0.1", ClientPort: "40000", ClientID: "cid", LocalIP: "127.0.0.2", LocalPort: "143",
		AuthLoginAttempt: 2, NoAuth: true, NoCache: true,
	}
	ssl := req.SSL
	req.SSL = nil
	if diff := cmp.Diff(want, *req, cmpopts.IgnoreUnexported(Request{})); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
	if ssl["ssl"] != "on" || ssl["ssl_protocol"] != "TLSv1.3" || ssl["ssl_cipher"] != "TLS_AES_256_GCM_SHA384" {
		t.Errorf("ssl %v", ssl)
	}
	// Client-Host has no default header (contract §3.1).
	if req.ClientHost != "" {
		t.Errorf("Client-Host was read")
	}
	if r.Header.Get("Auth-Pass") != "" {
		t.Errorf("Auth-Pass left on the request")
	}
}

func TestPasswordEncoded(t *testing.T) {
	pw := "p\xc3\xa4ss?>word"
	for _, enc := range []string{base64.URLEncoding.EncodeToString([]byte(pw)), base64.RawURLEncoding.EncodeToString([]byte(pw))} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Auth-User", "u")
		r.Header.Set("Auth-Pass", enc)
		r.Header.Set("X-Auth-Password-Encoded", "1")
		req, err := parseHeaderRequest(r, "header")
		if err != nil || req.Password != pw {
			t.Errorf("%q: %q, %v", enc, req.Password, err)
		}
	}
}

func TestSessionID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := newSessionID(timeNowForTest())
		if len(id) != sessionIDLen {
			t.Fatalf("id %q has length %d", id, len(id))
		}
		for _, c := range []byte(id) {
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
				t.Fatalf("id %q is not base62", id)
			}
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
	}
}
