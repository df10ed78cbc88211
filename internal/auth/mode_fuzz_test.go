package auth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzRequestMode feeds raw query strings to the mode parsing of every
// endpoint: it never panics, never sets two modes, gives only the known
// modes, and a refusal is a one-line 400 reason.
func FuzzRequestMode(f *testing.F) {
	for _, seed := range []string{
		"", "mode=no-auth", "mode=list-accounts", "mode=", "mode=no-auth&mode=list-accounts",
		"mode=%00", "mode=no%2Dauth", "mode=list-accounts&cache=0", "mode=lookup", "mode=%zz", ";mode=no-auth",
		"mode=" + strings.Repeat("x", 300), "in-memory=0&cache=0&mode=no-auth", "mode=no-auth\r\nAuth-Status: OK",
	} {
		f.Add(seed, "")
		f.Add(seed, `{"username":"alice","service":"pop3"}`)
	}
	f.Fuzz(func(t *testing.T, rawQuery, body string) {
		if len(rawQuery) > 4096 || len(body) > 4096 {
			return
		}
		q, _ := url.ParseQuery(rawQuery)
		mode, modeErr := parseMode(q)
		if modeErr == nil && mode != modeLogin && mode != modeNoAuth && mode != modeListAccounts {
			t.Fatalf("parseMode(%q) = %q", rawQuery, mode)
		}
		for _, endpoint := range []string{"nginx", "header", "json"} {
			r := httptest.NewRequest(http.MethodPost, "/api/v1/auth/"+endpoint, strings.NewReader(body))
			r.URL.RawQuery = rawQuery
			r.Header.Set("Auth-User", "alice")
			r.Header.Set("Auth-Pass", "secret")
			var req *Request
			var err error
			if endpoint == "json" {
				req, err = parseJSONRequest(httptest.NewRecorder(), r, defaultMaxBodyBytes)
			} else {
				req, err = parseHeaderRequest(r, endpoint)
			}
			if err != nil {
				var re *requestError
				if !errors.As(err, &re) {
					t.Fatalf("%s %q: error %T %v", endpoint, rawQuery, err, err)
				}
				if msg := reasonText(re.msg); strings.ContainsAny(msg, "\r\n\x00") {
					t.Fatalf("reason has a line break: %q", msg)
				}
				continue
			}
			if req.NoAuth && req.ListAccounts {
				t.Fatalf("%s %q: two modes", endpoint, rawQuery)
			}
			if modeErr != nil && (req.NoAuth || req.ListAccounts) {
				t.Fatalf("%s %q: mode set although parseMode refused: %v", endpoint, rawQuery, modeErr)
			}
			if req.ListAccounts && endpoint == "nginx" {
				t.Fatalf("nginx accepted list-accounts")
			}
			if req.NoAuth != (mode == modeNoAuth) || req.ListAccounts != (mode == modeListAccounts) {
				t.Fatalf("%s %q: NoAuth=%v ListAccounts=%v, mode %q", endpoint, rawQuery, req.NoAuth, req.ListAccounts, mode)
			}
		}
	})
}
