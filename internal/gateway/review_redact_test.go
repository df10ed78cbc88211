package gateway

import (
	"strings"
	"testing"
)

// Session ids travel as path parameters too (Java servlets' ;jsessionid=,
// PHP's ;PHPSESSID=): the access log's path and the gateway's error log
// withhold them as they withhold ?jsessionid=. A credential nested in a
// harmless query value (next=/cb?access_token=…, or percent-encoded) stays
// out of the query field.
func TestReviewGatewayLogsWithholdPathSessionIDsAndNestedQueryCredentials(t *testing.T) {
	o := newEcho(t)
	h := newHarness(t, accessYAML(o.URL, ""))
	h.do("GET", "/nowhere;jsessionid=SECRET1", nil, nil)
	h.do("GET", "/nowhere/x;PHPSESSID=SECRET2/y", nil, nil)
	h.do("GET", "/things/1?next=/cb?access_token=SECRET3&r=%2Fcb%3Fcode%3DSECRET4&page=2", nil, nil)
	logs := h.logs.String()
	if strings.Contains(logs, "SECRET") {
		t.Fatalf("a credential reached the log:\n%s", logs)
	}
	for _, want := range []string{`"path":"/nowhere;jsessionid=<redacted>"`, `"query":"next=/cb?access_token=<redacted>&r=<redacted>&page=2"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lost %s:\n%s", want, logs)
		}
	}
}

// An origin's query (with a raw space, which net/url accepts) becomes the
// health probe's path: backline check's "is probed at" line must withhold
// the whole key, not stop at the space.
func TestReviewMovedHealthCheckLineHidesAllOfTheKey(t *testing.T) {
	cfg := parseConfig(t, "definitions:\n  backends:\n    api:\n      origin: 'http://127.0.0.1:8080/x?api_key=abc SECRETTAIL&v=1'\n      beta_health: {scheme: https}\n")
	gw, err := New(Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	lines := gw.MovedHealthChecks()
	if len(lines) != 1 || strings.Contains(lines[0], "SECRETTAIL") || !strings.Contains(lines[0], "api_key=<redacted>") {
		t.Errorf("MovedHealthChecks %q", lines)
	}
}

// A url attribute whose password comes from the environment is checked
// only at run time (an origin's is checked at load); a password with an
// unencoded '/' makes net/url fail on every request, and the error log
// must not quote it (nor net/url's `invalid port ":PW1" after host`).
func TestReviewRuntimeURLErrorsHideAnUnencodedPassword(t *testing.T) {
	t.Setenv("BACKLINE_REVIEW_PW", "PW1/SECRETTAIL")
	o := newEcho(t)
	h := newHarness(t, `definitions:
  backends:
    other:
      origin: `+o.URL+`
gateway:
  address: 127.0.0.1:18999
  endpoints:
    - path: /url
      proxy:
        backend: other
        url: https://user:${BACKLINE_REVIEW_PW}@127.0.0.1:1/x
`)
	h.do("GET", "/url", nil, nil)
	logs := h.logs.String()
	if !strings.Contains(logs, "gateway request failed") {
		t.Fatalf("no error logged:\n%s", logs)
	}
	if strings.Contains(logs, "SECRETTAIL") || strings.Contains(logs, "PW1") {
		t.Errorf("the password reached the log:\n%s", logs)
	}
}
