package config

import (
	"strings"
	"testing"
)

// A request_uri is refused exactly when it holds a raw space or quote, and
// then the quoted value must not show the part of a credential after it
// (backline check's stderr, the reload log).
func TestReviewRequestURIErrorHidesAllOfTheCredential(t *testing.T) {
	for _, uri := range []string{
		"/h?api_key=abc SECRETTAIL",
		`/h?api_key=abc"SECRETTAIL`,
		"/h?x=1&token=abc\tSECRETTAIL",
		"h?api_key=abc SECRETTAIL",
	} {
		msg := checkRequestURI(uri)
		if msg == "" {
			t.Fatalf("checkRequestURI(%q) accepted it", uri)
		}
		if strings.Contains(msg, "SECRETTAIL") {
			t.Errorf("checkRequestURI(%q) = %s", uri, msg)
		}
	}
}

// A password with a character that must be percent-encoded ('/', '?',
// '#', a space) makes net/url end the host early and fail; the error must
// still not quote the password, nor net/url's reason that quotes part of
// it (invalid port ":pa" after host).
func TestReviewOriginErrorHidesAnUnencodedPassword(t *testing.T) {
	for _, origin := range []string{
		"https://user:PW1/SECRETTAIL@api.example/",
		"https://user:PW1?SECRETTAIL@api.example/",
		"https://user:PW1#SECRETTAIL@api.example/",
		"https://user:PW1 SECRETTAIL@api.example/",
	} {
		msg := checkOrigin(origin)
		if msg == "" {
			t.Fatalf("checkOrigin(%q) accepted it", origin)
		}
		if strings.Contains(msg, "SECRETTAIL") || strings.Contains(msg, "PW1") {
			t.Errorf("checkOrigin(%q) = %s", origin, msg)
		}
	}
	errs := strings.Join(parseErrors(t, originsYAML("origin: http://a:1\nproxy: 'http://user:PW1/SECRETTAIL@proxy:3128'\n")), "\n")
	if !strings.Contains(errs, ".proxy") || strings.Contains(errs, "SECRETTAIL") || strings.Contains(errs, "PW1") {
		t.Errorf("proxy error: %s", errs)
	}
}

// A backend path with a query or fragment is refused (Couper's rule) and
// quoted; a key in it is withheld whole, also past a raw space.
func TestReviewBackendPathErrorHidesAllOfTheKey(t *testing.T) {
	for _, p := range []string{"/x?api_key=abc SECRETTAIL", "/x#access_token=abc SECRETTAIL", "/x?a=1#token=abc SECRETTAIL"} {
		msg := CheckBackendPath(p)
		if msg == "" || strings.Contains(msg, "SECRETTAIL") {
			t.Errorf("CheckBackendPath(%q) = %q", p, msg)
		}
	}
}
