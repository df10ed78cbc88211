package gateway

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzParseTokenResponse: any answer gives a header-safe token with a
// bounded lifetime, or an error that does not quote the answer.
func FuzzParseTokenResponse(f *testing.F) {
	for _, s := range []string{
		`{"access_token":"a","token_type":"Bearer","expires_in":3600}`,
		`{"access_token":"a","expires_in":"60"}`, `{"access_token":"a\r\n"}`, `{"access_token":1}`,
		`{"access_token":"a","expires_in":1e400}`, `[]`, `null`, `{"error":"x"}`, `{"access_token":"a"}{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		tok, ttl, err := parseTokenResponse(body)
		if err != nil {
			if len(body) > 8 && strings.Contains(err.Error(), string(body)) {
				t.Fatalf("error quotes the answer: %v", err)
			}
			return
		}
		if tok == "" || len(tok) > maxAccessToken || !visibleASCII(tok) {
			t.Fatalf("unsafe token %q", tok)
		}
		if ttl < 0 || ttl > maxTokenLifetime {
			t.Fatalf("lifetime %s", ttl)
		}
	})
}

// FuzzTokenResponseLookups: evaluating token and ttl on any answer neither
// panics nor takes unbounded output.
func FuzzTokenResponseLookups(f *testing.F) {
	f.Add([]byte(`{"a":{"b":[1,"x",{"c":true}]}}`), "a.b.2.c")
	f.Add([]byte(`{"a":12345678901234567890}`), "a")
	f.Add([]byte(`[[[[]]]]`), "0.0.0")
	f.Fuzz(func(t *testing.T, body []byte, path string) {
		r := &tokenResponse{status: 200, header: http.Header{}, body: body}
		rd := &requestData{tok: &tokenData{resp: r}}
		p := templatePart{kind: lookupRespJSON, text: path}
		if out := p.lookup(rd); len(out) > 4*len(body)+16 {
			t.Fatalf("lookup grew %d bytes into %d", len(body), len(out))
		}
	})
}
