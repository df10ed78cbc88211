package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// ctl --json prints the daemon's answer as JSON: a last_error that quotes
// a header line (as the daemon writes it, value withheld, or as an older
// daemon wrote it, value shown) keeps the document whole and valid, with
// the rest of the backends after it; only a credential's value goes.
func TestCtlJSONKeepsDocumentAroundQuotedHeaderLines(t *testing.T) {
	answer := `{"round":7,"backends":[
 {"id":"web1","group":"http","protocol":"http","host":"10.0.0.1","port":80,"healthy":false,"eligible":false,"reason":"unhealthy",
  "connect":{"last_error":"reading the HTTP response from 10.0.0.1:80: malformed MIME header line: \"Set-Cookie: \u003credacted\u003e\""}},
 {"id":"web2","group":"http","protocol":"http","host":"10.0.0.2","port":80,"healthy":false,"eligible":false,"reason":"unhealthy",
  "connect":{"last_error":"reading the HTTP response from 10.0.0.2:80: malformed MIME header line: \"Set-Cookie: sid=SECRET\\x01\""}},
 {"id":"web3","group":"http","protocol":"http","host":"10.0.0.3","port":80,"healthy":true,"eligible":true,"reason":""}
]}`
	f := newFakeCtlAPI(t, 200, answer)
	code, stdout, stderr := backline(t, "ctl", "--api", f.URL, "list", "--json")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if strings.Contains(stdout, "SECRET") {
		t.Errorf("shows the secret:\n%s", stdout)
	}
	var doc struct {
		Backends []struct {
			ID      string `json:"id"`
			Connect struct {
				LastError string `json:"last_error"`
			} `json:"connect"`
		} `json:"backends"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("not JSON (%v):\n%s", err, stdout)
	}
	if len(doc.Backends) != 3 || doc.Backends[2].ID != "web3" {
		t.Fatalf("backends lost:\n%s", stdout)
	}
	for _, b := range doc.Backends[:2] {
		if !strings.Contains(b.Connect.LastError, `malformed MIME header line: "Set-Cookie: <redacted>"`) {
			t.Errorf("%s: last_error %q", b.ID, b.Connect.LastError)
		}
	}
}
