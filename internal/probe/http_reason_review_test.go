package probe

import (
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/redact"
)

// Bug: withheldForms cut a target's values at '/' and '?' everywhere,
// while the GET line (redact.RequestURI) withholds a query value up to
// '&', ';' or '#' and a path parameter's up to '&' or ';'. A token with a
// '/' (standard base64: AWS and Azure signatures) or a '?' was replaced
// only up to that byte, and a reason quoting it without its name showed
// the rest. A redirect parameter's user-info password, withheld by the
// GET line, was not withheld in the reason at all when the server echoed
// it percent-encoded; nor was a value the server re-encoded with
// lower-case hex (.NET's HttpUtility.UrlEncode does).
func TestReviewReasonWithholdsWhatTheGETLineWithholds(t *testing.T) {
	cases := []struct{ name, target, reason string }{
		{"slash in a query value", "/healthz?sig=AbC/S3cr3tX%3D", `signature "AbC/S3cr3tX=" rejected`},
		{"slash in a query value, sent form", "/healthz?sig=AbC/S3cr3tX", `signature AbC/S3cr3tX rejected`},
		{"question mark in a query value", "/healthz?token=AbC?S3cr3tX", `token AbC?S3cr3tX expired`},
		{"slash in a path parameter", "/healthz;jsessionid=AbC/S3cr3tX", `session AbC/S3cr3tX expired`},
		{"user info of a redirect, echoed encoded", "/healthz?next=https%3A%2F%2Fu%3AS3cr3tX%40h%2F",
			`bad next https%3A%2F%2Fu%3AS3cr3tX%40h%2F`},
		{"lower-case hex", "/healthz?token=AbC%2FS3cr3tX", `token AbC%2fS3cr3tX expired`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := shownReason(tc.reason, tc.target)
			if strings.Contains(got, "S3cr3tX") {
				t.Errorf("shownReason(%q, %q) = %q", tc.reason, tc.target, got)
			}
		})
	}
}

// Not a test of speed (no threshold): logs what a 256 KiB hostile reason
// costs, for the review's report.
func TestReviewReasonLargeInputCost(t *testing.T) {
	target := "/healthz?api_key=AbCdEf&sig=Xy/Zz%2Bq&next=https%3A%2F%2Fu%3Apw%40h%2F"
	for _, unit := range []string{"a=", "api_key=AbCdEf ", "%2", "AbC", "?a=b&", "https://u:p@", `\"`} {
		reason := strings.Repeat(unit, 256<<10/len(unit))
		start := time.Now()
		shownReason(reason, target)
		t.Logf("%-16q x %d: %v", unit, len(reason)/len(unit), time.Since(start))
	}
}

// FuzzReviewShownReasonTokenAlphabet: like FuzzShownReason, with keys of
// the bytes real tokens hold besides letters and digits (base64's '/' and
// '+', '=' padding, '?', '.', '~', '-', '_') in the query or a path
// parameter; the key never shows as sent.
func FuzzReviewShownReasonTokenAlphabet(f *testing.F) {
	f.Add(`signature "AbC/S3cr3tX=" rejected`, "AbC/S3cr3tX=", false)
	f.Add("session AbC?S3cr3tX expired", "AbC?S3cr3tX", true)
	f.Add("x?token=a&b=c#d", "ab+/cd", false)
	f.Fuzz(func(t *testing.T, reason, key string, pathParam bool) {
		if len(key) < 4 || strings.ContainsFunc(key, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/+=?.~-_", r))
		}) || key[0] == '=' {
			return
		}
		target := "/healthz?x=1&api_key=" + key + "&y=2"
		if pathParam {
			target = "/healthz;jsessionid=" + key + "?y=2"
		}
		got := strings.ReplaceAll(shownReason(reason, target), "<redacted>", "\x00")
		if strings.Contains(got, key) {
			t.Fatalf("shownReason(%q, %q) = %q shows the key %q", reason, target, got, key)
		}
	})
}

// Bug: only the request target's values were withheld from the reason
// phrase, though the request's transcript withholds a sensitive header's
// value (X-Api-Key, Authorization: Bearer …) and the Basic credentials
// too. A server answering "401 invalid API key <key>" showed the key in
// the check's error, the status API and logs.
func TestReviewReasonWithholdsTheRequestsHeaderSecrets(t *testing.T) {
	cases := []struct {
		name, reason string
		headers      map[string]string
		user, pass   string
	}{
		{"api key header", "Unauthorized: invalid API key K3yS3cr3t", map[string]string{"X-Api-Key": "K3yS3cr3t"}, "", ""},
		{"bearer token", `Unauthorized: token "S3cr3tT0k3n/x" expired`, map[string]string{"Authorization": "Bearer S3cr3tT0k3n/x"}, "", ""},
		{"basic password", "Unauthorized: password S3cr3tPw for probe rejected", nil, "probe", "S3cr3tPw"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			port := rawHTTPServer(t, "HTTP/1.1 401 "+tc.reason+"\r\nContent-Length: 0\r\n\r\n")
			tg, err := NewTarget(&config.Target{Protocol: "http", Host: "127.0.0.1", Port: port, DeepCheck: true,
				RequestURI: "/healthz", Headers: tc.headers, TestUsername: tc.user, TestPassword: tc.pass, AllowPlaintextAuth: tc.user != ""})
			if err != nil {
				t.Fatal(err)
			}
			res := deep(t, tg)
			if res.OK || res.Err == nil {
				t.Fatal("a 401 passed")
			}
			shown := res.Err.Error() + "\n" + strings.Join(res.Transcript, "\n")
			for _, secret := range []string{"K3yS3cr3t", "S3cr3tT0k3n", "S3cr3tPw"} {
				if strings.Contains(shown, secret) {
					t.Errorf("a secret came back:\n%s", shown)
				}
			}
		})
	}
}

// FuzzReviewReplacedParts: any text and its redaction by RequestURI (a
// target read at any decoding level, <redacted> in it or not): the parts
// found never panic, and put back in place of the placeholders they give
// the text again when the text holds no placeholder of its own.
func FuzzReviewReplacedParts(f *testing.F) {
	f.Add("/healthz?x=1&api_key=abc/def&y=%2Fcb%3Ftoken%3Dx")
	f.Add("/p;jsessionid=a/b?next=https://u:pw@h/&token=<redacted>")
	f.Fuzz(func(t *testing.T, raw string) {
		shown := redact.RequestURI(raw)
		parts := replacedParts(raw, shown)
		if strings.Contains(raw, redact.Placeholder) {
			return
		}
		back := shown
		for _, p := range parts {
			back = strings.Replace(back, redact.Placeholder, p, 1)
		}
		if back != raw {
			t.Fatalf("replacedParts(%q, %q) = %q, which put back gives %q", raw, shown, parts, back)
		}
	})
}
