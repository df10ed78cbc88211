package lua

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/testutil"
)

// rawHTTPOrigin answers each request with response as written.
func rawHTTPOrigin(t *testing.T, response string) string {
	return "http://" + testutil.ServeCannedHTTP(t, response)
}

// net/http quotes a malformed header or trailer line in its error; the
// error a script gets (and logs, or raises into the daemon's log) keeps
// the header's name and the reason, not a credential's value.
func TestGluaHTTPErrorNeverQuotesHeaderSecrets(t *testing.T) {
	cfg := config.LuaConfig{}
	cfg.HTTPClient = config.LuaHTTPClient{AllowedHosts: []string{"127.0.0.1"}, Timeout: 5 * time.Second,
		MaxResponseBody: 1 << 20, MaxRedirects: 1}
	for name, response := range map[string]string{
		"head":    "HTTP/1.1 200 OK\r\nSet-Cookie: sid=SECRET\x01\r\nContent-Length: 2\r\n\r\nok",
		"trailer": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-Auth-Token: SECRET\x00\r\n\r\n",
	} {
		url := rawHTTPOrigin(t, response)
		out, err, _ := runOne(t, `function nauthilus_call_filter(request)
  local http = require("glua_http")
  local resp, err = http.get("`+url+`/x")
  nauthilus_builtin.custom_log_add("err", err)
  local _, errs = http.request_batch({{"GET", "`+url+`/y"}})
  nauthilus_builtin.custom_log_add("batch", errs and errs[1])
  return nauthilus_builtin.FILTER_ACCEPT, 0
end`, engineSetup{cfg: cfg})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, key := range []string{"err", "batch"} {
			v, _ := logValue(out, key)
			text := fmt.Sprint(v)
			if strings.Contains(text, "SECRET") {
				t.Errorf("%s %s: the script's error shows the secret: %s", name, key, text)
			}
			if !strings.Contains(text, "malformed MIME header") {
				t.Errorf("%s %s: the script's error lost the reason: %s", name, key, text)
			}
		}
	}
}

// Go's HTTP client quotes the whole request URL in its errors (url.Error);
// the error a script gets for a call that failed (here: nothing listens)
// names the cause without the URL's credentials, whichever way the error
// is built (redact.ErrorText would withhold them from a quoted URL too).
func TestGluaHTTPErrorNeverQuotesURLSecrets(t *testing.T) {
	cfg := config.LuaConfig{}
	cfg.HTTPClient = config.LuaHTTPClient{AllowedHosts: []string{"127.0.0.1"}, Timeout: 5 * time.Second,
		MaxResponseBody: 1 << 20, MaxRedirects: 1}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close()
	out, err, _ := runOne(t, `function nauthilus_call_filter(request)
  local http = require("glua_http")
  local resp, err = http.get("`+url+`/x?access_token=SECRET1&page=2")
  nauthilus_builtin.custom_log_add("err", err)
  local _, errs = http.request_batch({{"GET", "`+url+`/y?api_key=SECRET2"}})
  nauthilus_builtin.custom_log_add("batch", errs and errs[1])
  return nauthilus_builtin.FILTER_ACCEPT, 0
end`, engineSetup{cfg: cfg})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"err", "batch"} {
		v, _ := logValue(out, key)
		text := fmt.Sprint(v)
		if strings.Contains(text, "SECRET") {
			t.Errorf("%s: the script's error shows the secret: %s", key, text)
		}
		if !strings.Contains(text, "connection refused") {
			t.Errorf("%s: the script's error lost the cause: %s", key, text)
		}
	}
}
