package gateway

import (
	"strings"
	"testing"

	"github.com/backline/backline/internal/testutil"
)

// cannedOrigin answers every request with response as written, however broken.
func cannedOrigin(t *testing.T, response string) string {
	return "http://" + testutil.ServeCannedHTTP(t, response)
}

// An origin's malformed header line is quoted by net/http in the error the
// gateway logs: a credential's value never reaches the log, the name does.
func TestGatewayLogNeverQuotesOriginHeaderSecrets(t *testing.T) {
	for _, line := range []string{
		"Set-Cookie: sid=SECRET\x01",
		"sEt-CoOkIe: sid=SECRET\x7f",
		"Set\x01Cookie: sid=SECRET",
		"X-Amz-Security-Token: SECRET\x00",
		"Authorization SECRET",
	} {
		origin := cannedOrigin(t, "HTTP/1.1 200 OK\r\nX-Ok: 1\r\n"+line+"\r\nContent-Length: 2\r\n\r\nok")
		h := newHarness(t, accessYAML(origin, ""))
		resp, body := h.do("GET", "/things/7", nil, nil)
		expectError(t, resp, body, 502, "backend")
		logs := h.logs.String()
		if strings.Contains(logs+body, "SECRET") {
			t.Errorf("%q: the log or the answer shows the secret:\n%s\n%s", line, logs, body)
		}
		if !strings.Contains(logs, "malformed MIME header") {
			t.Errorf("%q: the log lost the reason:\n%s", line, logs)
		}
	}
}
