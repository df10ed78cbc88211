package auth

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/lua"
)

// What a filter reads with nauthilus_http_request and sets with
// nauthilus_http_response, through the real engine and each endpoint.
func TestFilterSeesRequestAndSetsResponse(t *testing.T) {
	env := newLuaEnv(t, nil, "http_exchange_filter.lua")

	// json: the filter read the body, and the endpoint still parsed it.
	body := `{"username":"alice","password":"` + testPassword + `","protocol":"imap"}`
	r := jsonRequestFor(http.MethodPost, body)
	r.Header.Add("X-Tag", "a")
	r.Header.Add("X-Tag", "b")
	r.Header.Set("Authorization", "Basic dXNlcjpwYXNz")
	w := env.do(r)
	if w.Code != 200 || w.Header().Get("X-Seen-Tags") != "a,b" || w.Header().Get("X-Seen-Method") != "POST" ||
		w.Header().Get("X-Seen-Path") != "/api/v1/auth/json" || w.Header().Get("X-Seen-Body-Bytes") != itoa(len(body)) {
		t.Errorf("json: %d %v %s", w.Code, w.Header(), w.Body.String())
	}

	// header: a status set by the filter replaces the answer's.
	r = headerRequest(testUser, testPassword, "imap")
	r.URL.RawQuery = "status=202"
	w = env.do(r)
	if w.Code != 202 || w.Header().Get("Auth-Status") != "OK" || w.Header().Get("X-Seen-Method") != "GET" {
		t.Errorf("header: %d %v", w.Code, w.Header())
	}

	// nginx: headers come along (within nginx's room); the status stays 200.
	r = nginxRequest(testUser, testPassword, "imap", "1")
	r.URL.RawQuery = "status=503"
	w = env.do(r)
	if w.Code != 200 || w.Header().Get("Auth-Status") != "OK" || w.Header().Get("X-Seen-Path") != "/api/v1/auth/nginx" ||
		w.Header().Get("Auth-Server") == "" {
		t.Errorf("nginx: %d %v", w.Code, w.Header())
	}
	// The password header never reached the script (it raises if it does).
	if strings.Contains(env.logs.String(), "credential header") {
		t.Errorf("log:\n%s", env.logs.String())
	}
}

// A body over the bound on the header endpoint does not fail the login:
// the script's get_http_request_body answers nil, err instead.
func TestHeaderEndpointHugeBody(t *testing.T) {
	env := newLuaEnv(t, nil, "http_exchange_filter.lua")
	r := headerRequest(testUser, testPassword, "imap")
	r.Method = http.MethodPost
	r.Body = http.NoBody
	r.Body = nopCloser{strings.NewReader(strings.Repeat("x", int(defaultMaxBodyBytes)+10))}
	w := env.do(r)
	// #nil raises in the filter: tempfail, and the log names the script.
	if w.Code != 500 {
		t.Errorf("huge body: %d %v", w.Code, w.Header())
	}
}

type nopCloser struct{ *strings.Reader }

func (nopCloser) Close() error { return nil }

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}

// nginx reads at most 1024 bytes of answer: script headers past
// maxNginxScriptHeaderBytes are dropped (and logged), never sent.
func TestNginxScriptHeaderBudget(t *testing.T) {
	env := newEnv(t, nil)
	x := newExchange(headerRequest(testUser, testPassword, "imap"), &Request{}, lua.NewHiddenHeaders("Auth-Pass"), defaultMaxBodyBytes)
	for i := range 10 {
		if err := setTestHeader(x, "X-Pad-"+itoa(i), strings.Repeat("v", 40)); err != nil {
			t.Fatal(err)
		}
	}
	rec := newRecorder()
	env.h.applyScriptResponse(rec, "nginx", x, "sess")
	total := 0
	for k, vs := range rec.Header() {
		for _, v := range vs {
			total += len(k) + len(v) + 4
		}
	}
	if total > maxNginxScriptHeaderBytes || total == 0 {
		t.Errorf("nginx got %d bytes of script headers: %v", total, rec.Header())
	}
	if !strings.Contains(env.logs.String(), "no room") {
		t.Errorf("drop not logged:\n%s", env.logs.String())
	}
	rec = newRecorder()
	env.h.applyScriptResponse(rec, "header", x, "sess")
	if len(rec.Header()) != 10 {
		t.Errorf("header endpoint got %d headers", len(rec.Header()))
	}
}

// The largest nginx success (512-byte account, IPv6 server) with the most
// script headers still fits the 1024 bytes nginx reads, on the wire.
func TestNginxAnswerWithScriptHeadersFits1024(t *testing.T) {
	account := strings.Repeat("a", maxNginxAccount)
	env := newEnv(t, func(c *config.Config, _ *Options) {
		c.Auth.Passdb[0].Path = writePasswd(t, account+":{PLAIN}"+testPassword)
	})
	env.health.set(mailBackend("imap-6", "imap", "2001:db8:ffff:ffff:ffff:ffff:ffff:fffe", 65535, true))
	x := newExchange(nginxRequest(account, testPassword, "imap", "1"), &Request{}, lua.NewHiddenHeaders("Auth-Pass"), defaultMaxBodyBytes)
	for i := range 20 {
		_ = setTestHeader(x, "X-F"+itoa(i), strings.Repeat("v", 20))
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := parseHeaderRequest(r, "nginx")
		if err != nil {
			t.Error(err)
			return
		}
		req.snap = env.h.snapshot()
		d := env.h.decide(r.Context(), req, "3MxOu1MBS52ZFEICKSZyyldJ7h0")
		env.h.settleRequest("nginx", req, d, "3MxOu1MBS52ZFEICKSZyyldJ7h0")
		w = env.h.applyScriptResponse(w, "nginx", x, "3MxOu1MBS52ZFEICKSZyyldJ7h0")
		env.h.answerNginx(r.Context(), w, req, d, "3MxOu1MBS52ZFEICKSZyyldJ7h0")
	}))
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /api/v1/auth/nginx HTTP/1.0\r\nHost: x\r\nAuth-Method: plain\r\nAuth-User: %s\r\nAuth-Pass: %s\r\nAuth-Protocol: imap\r\nAuth-Login-Attempt: 1\r\nClient-IP: 192.0.2.7\r\n\r\n", account, testPassword)
	answer, _ := io.ReadAll(conn)
	if !strings.Contains(string(answer), "Auth-Status: OK") || !strings.Contains(string(answer), "X-F") {
		t.Fatalf("answer:\n%s", answer)
	}
	t.Logf("answer: %d bytes, Auth-User echoed: %v", len(answer), strings.Contains(string(answer), "Auth-User: "+account))
	if len(answer) > 1024 {
		t.Errorf("nginx answer is %d bytes, nginx reads 1024:\n%s", len(answer), answer)
	}
}
