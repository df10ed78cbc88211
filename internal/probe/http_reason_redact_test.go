package probe

import (
	"strings"
	"testing"

	"github.com/backline/backline/internal/config"
)

// Bug: the status line of an HTTP check went through free-text redaction
// only (redact.Text), which ends a value at a quote or a space and does not
// look at percent-encoded text or at a value without its name. A reason
// phrase echoing the request target could show the check's key that way.
// The reason phrase now has the target, in the forms a server echoes it,
// shown as the request line shows it (redact.RequestURI), every withheld
// query value replaced wherever it appears, and the rest read the way a
// request target is (what follows a '?' as a query).
func TestHTTPReasonPhraseNeverShowsTheTargetsKey(t *testing.T) {
	cases := []struct {
		name, target, reason, keep string
	}{
		{"echoed target", "/healthz?api_key=K3yS3cr3t&verbose=1",
			"Not Found: /healthz?api_key=K3yS3cr3t&verbose=1", "Not Found: /healthz?api_key=<redacted>&verbose=1"},
		{"token after a quote", `/healthz?token=ab"K3yS3cr3t`,
			`Not Found: "/healthz?token=ab"K3yS3cr3t"`, "Not Found"},
		{"quoted value without its name", "/healthz?access_token=K3yS3cr3t",
			`Unauthorized: token "K3yS3cr3t" expired`, `Unauthorized: token "<redacted>" expired`},
		{"value alone", "/healthz?apikey=K3yS3cr3t",
			"Forbidden (key K3yS3cr3t unknown)", "Forbidden (key <redacted> unknown)"},
		{"percent-encoded target echoed decoded", "/healthz?token=K3y%2FS3cr3t%2B1",
			"Not Found: /healthz?token=K3y/S3cr3t+1", "Not Found: /healthz?token=<redacted>"},
		{"target echoed percent-encoded", "/healthz?token=K3yS3cr3t",
			"Not Found: %2Fhealthz%3Ftoken%3DK3yS3cr3t", "Not Found"},
		{"encoded value echoed encoded again", "/healthz?token=K3y%2FS3cr3t",
			"Not Found: token K3y%252FS3cr3t", "Not Found: token <redacted>"},
		{"another key in the reason", "/healthz",
			`Not Found: /other?x=1&session="K3yS3cr3t tail"`, "Not Found: /other?x=1&session=<redacted>"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			port := rawHTTPServer(t, "HTTP/1.1 404 "+tc.reason+"\r\nContent-Length: 0\r\n\r\n")
			tg, err := NewTarget(&config.Target{Protocol: "http", Host: "127.0.0.1", Port: port, DeepCheck: true,
				RequestURI: tc.target})
			if err != nil {
				t.Fatal(err)
			}
			res := deep(t, tg)
			if res.OK || res.Err == nil {
				t.Fatal("a 404 passed")
			}
			shown := res.Err.Error() + "\n" + strings.Join(res.Transcript, "\n")
			for _, secret := range []string{"K3yS3cr3t", "S3cr3t"} {
				if strings.Contains(shown, secret) {
					t.Errorf("the key came back:\n%s", shown)
				}
			}
			if !strings.Contains(res.Err.Error(), "404 "+tc.keep) {
				t.Errorf("error %q does not show %q", res.Err, "404 "+tc.keep)
			}
		})
	}
}

// A reason phrase that names no credential is shown as sent.
func TestHTTPReasonPhraseWithoutCredentialsIsKept(t *testing.T) {
	for _, reason := range []string{"Not Found", "Service Unavailable? retry later", "Not Found: /healthz?verbose=1"} {
		if got := shownReason(reason, "/healthz?verbose=1"); got != reason {
			t.Errorf("shownReason(%q) = %q", reason, got)
		}
	}
}

// FuzzShownReason: any reason phrase, and a key (letters and digits) the
// target carries: the key never shows, in any form the reason holds it.
func FuzzShownReason(f *testing.F) {
	f.Add("Not Found: /healthz?api_key=K3yS3cr3t&verbose=1", "K3yS3cr3t")
	f.Add(`Not Found: "/healthz?token=ab"K3yS3cr3t"`, "K3yS3cr3t")
	f.Add("Not Found: %2Fhealthz%3Ftoken%3DK3yS3cr3t", "K3yS3cr3t")
	f.Add("x?token=a&b=c#d", "abcd")
	f.Fuzz(func(t *testing.T, reason, key string) {
		if len(key) < 4 || strings.ContainsFunc(key, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		}) {
			return
		}
		got := shownReason(reason, "/healthz?x=1&api_key="+key+"&y=2")
		if strings.Contains(got, key) {
			t.Fatalf("shownReason(%q) = %q shows the key %q", reason, got, key)
		}
	})
}
