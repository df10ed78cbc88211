package probe

import (
	"strings"
	"testing"

	"github.com/backline/backline/internal/config"
)

// A request_uri with an API key in its query and an answer that redirects
// to a URL with an authorization code: the transcript (backline probe, the
// status API's last check) keeps both URLs, not the credentials.
func TestHTTPTranscriptNeverShowsURLSecrets(t *testing.T) {
	port := rawHTTPServer(t, "HTTP/1.1 200 OK\r\nLocation: https://app.example/cb?code=SECRET1&state=visible\r\nContent-Length: 2\r\n\r\nok")
	tg, err := NewTarget(&config.Target{Protocol: "http", Host: "127.0.0.1", Port: port, DeepCheck: true,
		RequestURI: "/healthz?api_key=SECRET2&verbose=1"})
	if err != nil {
		t.Fatal(err)
	}
	res := deep(t, tg)
	transcript := strings.Join(res.Transcript, "\n")
	if !res.OK {
		t.Fatalf("check failed: %v\n%s", res.Err, transcript)
	}
	if strings.Contains(transcript, "SECRET") {
		t.Errorf("the transcript shows a secret:\n%s", transcript)
	}
	for _, want := range []string{"C: GET /healthz?api_key=<redacted>&verbose=1 HTTP/1.1", "S: Location: https://app.example/cb?code=<redacted>&state=visible"} {
		if !strings.Contains(transcript, want) {
			t.Errorf("the transcript lost %q:\n%s", want, transcript)
		}
	}
}

// A quote or backslash inside a request_uri's credential does not end it
// in the transcript's request line: the line shows the target as
// request_uri is shown everywhere else (redact.RequestURI), not as free
// text, whose values stop at a quote.
func TestHTTPTranscriptWithholdsCredentialPastQuote(t *testing.T) {
	port := rawHTTPServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	tg, err := NewTarget(&config.Target{Protocol: "http", Host: "127.0.0.1", Port: port, DeepCheck: true,
		RequestURI: `/healthz?token=ab"SECRET'TAIL&verbose=1`})
	if err != nil {
		t.Fatal(err)
	}
	res := deep(t, tg)
	transcript := strings.Join(res.Transcript, "\n")
	if !res.OK {
		t.Fatalf("check failed: %v\n%s", res.Err, transcript)
	}
	if strings.Contains(transcript, "SECRET") || strings.Contains(transcript, "TAIL") {
		t.Errorf("the transcript shows part of the token:\n%s", transcript)
	}
	if want := "C: GET /healthz?token=<redacted>&verbose=1 HTTP/1.1"; !strings.Contains(transcript, want) {
		t.Errorf("the transcript lost %q:\n%s", want, transcript)
	}
}
