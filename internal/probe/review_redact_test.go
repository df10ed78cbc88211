package probe

import (
	"strings"
	"testing"

	"github.com/backline/backline/internal/config"
)

// backline probe --request-uri takes what the shell gives it, spaces
// included: the refusal quotes the value without any part of the key
// (Text would end the value at the space and show the rest).
func TestReviewRequestURIRefusalHidesAllOfTheKey(t *testing.T) {
	port := rawHTTPServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	tg, err := NewTarget(&config.Target{Protocol: "http", Host: "127.0.0.1", Port: port, DeepCheck: true,
		RequestURI: "/healthz?api_key=abc SECRETTAIL&verbose=1"})
	if err != nil {
		t.Fatal(err)
	}
	res := deep(t, tg)
	if res.OK || res.Err == nil {
		t.Fatalf("a request_uri with a space was sent")
	}
	shown := res.Err.Error() + "\n" + strings.Join(res.Transcript, "\n")
	if strings.Contains(shown, "SECRETTAIL") {
		t.Errorf("the refusal shows the key:\n%s", shown)
	}
	if !strings.Contains(shown, "api_key=<redacted>") {
		t.Errorf("the refusal lost the parameter name:\n%s", shown)
	}
}

// A server that echoes the request target in its status line (some
// frameworks put the path in the reason phrase) must not bring the
// check's key into the transcript or the error (status API, logs).
func TestReviewEchoedRequestTargetInStatusLine(t *testing.T) {
	port := rawHTTPServer(t, "HTTP/1.1 404 Not Found: /healthz?api_key=K3yS3cr3t&verbose=1\r\nContent-Length: 0\r\n\r\n")
	tg, err := NewTarget(&config.Target{Protocol: "http", Host: "127.0.0.1", Port: port, DeepCheck: true,
		RequestURI: "/healthz?api_key=K3yS3cr3t&verbose=1"})
	if err != nil {
		t.Fatal(err)
	}
	res := deep(t, tg)
	if res.OK || res.Err == nil {
		t.Fatal("a 404 passed")
	}
	shown := res.Err.Error() + "\n" + strings.Join(res.Transcript, "\n")
	if strings.Contains(shown, "K3yS3cr3t") {
		t.Errorf("the key came back:\n%s", shown)
	}
	if !strings.Contains(res.Err.Error(), "404 Not Found") {
		t.Errorf("the error lost the status: %v", res.Err)
	}
}
