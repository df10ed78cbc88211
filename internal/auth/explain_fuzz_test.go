package auth

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzParseExplain: any body is either refused or gives a request whose
// user name has no control characters and whose protocol is a plain name.
func FuzzParseExplain(f *testing.F) {
	for _, seed := range []string{
		`{"username":"alice","protocol":"imap"}`,
		`{"username":"a","protocol":"imap","client_ip":"::1","local_port":"143","service":"json"}`,
		`{"username":"a\u0000","protocol":"imap"}`,
		`{"username":"a","protocol":"imap","local_port":1e3}`,
		`{"username":"a","username":"b","protocol":"imap"}`,
		`{`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/api/v1/explain", strings.NewReader(body))
		req, err := parseExplain(w, r)
		if err != nil {
			return
		}
		if req.Username == "" || hasControl(req.Username) || len(req.Username) > maxUsernameBytes || !ValidProtocolName(req.Protocol) {
			t.Fatalf("accepted %q as %+v", body, req)
		}
		if len(body) > maxExplainBody {
			t.Fatalf("accepted a %d-byte body", len(body))
		}
	})
}
