package lua

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
)

// httpTestServer answers the paths the glua_http test script asks for.
func httpTestServer(t *testing.T, tlsServer bool) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("X-Test", "a")
		w.Header().Add("X-Test", "b")
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "s1"})
		io.WriteString(w, "hello")
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		user, pass, _ := r.BasicAuth()
		c, _ := r.Cookie("c")
		cookie := ""
		if c != nil {
			cookie = c.Value
		}
		fmt.Fprintf(w, "%s|%s|%s|%s|%s|%s:%s|%s|%s", r.Method, r.URL.RawQuery, r.Header.Get("X-Custom"), body,
			r.Header.Get("Content-Type"), user, pass, cookie, r.Header.Get("User-Agent"))
	})
	mux.HandleFunc("/redirect-ok", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/hello", http.StatusFound) })
	mux.HandleFunc("/redirect-out", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://evil.example/steal", http.StatusFound)
	})
	mux.HandleFunc("/redirect-loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/redirect-loop", http.StatusFound)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "2097152")
		w.Write(make([]byte, 2<<20))
	})
	mux.HandleFunc("/big-chunked", func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 32<<10)
		for range 64 { // 2 MiB without a length
			if _, err := w.Write(chunk); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(20 * time.Second):
		}
	})
	mux.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	var srv *httptest.Server
	if tlsServer {
		srv = httptest.NewTLSServer(mux)
	} else {
		srv = httptest.NewServer(mux)
	}
	t.Cleanup(srv.Close)
	return srv
}

func TestGluaHTTPModule(t *testing.T) {
	plain, secure := httpTestServer(t, false), httpTestServer(t, true)
	roots := x509.NewCertPool()
	roots.AddCert(secure.Certificate())
	cfg := config.LuaConfig{}
	cfg.HTTPClient = config.LuaHTTPClient{AllowedHosts: []string{"127.0.0.1"}, Timeout: 5 * time.Second,
		MaxResponseBody: 64 << 10, MaxRedirects: 3}
	src, err := readModuleScript("glua_http_requests.lua", map[string]string{"BASE": plain.URL, "TLSBASE": secure.URL,
		"PORT": plain.URL[strings.LastIndexByte(plain.URL, ':')+1:]})
	if err != nil {
		t.Fatal(err)
	}
	e, logs := newEngineWith(t, engineSetup{cfg: cfg, filters: []config.LuaFilter{filter(t, "http", src)}}, func(e *Engine) {
		hostValue(e.host, outboundRootsKey, func() *x509.CertPool { return roots })
	})
	if _, err := e.RunFilters(t.Context(), &Request{Username: "alice", Password: moduleTestPassword}); err != nil {
		t.Fatalf("%v\n%s", err, logs.String())
	}
	if strings.Contains(logs.String(), moduleTestPassword) {
		t.Error("password in logs")
	}
}

// Without http_client.allowed_hosts nothing is reachable.
func TestGluaHTTPDefaultDeny(t *testing.T) {
	srv := httpTestServer(t, false)
	out, err, _ := runOne(t, `function nauthilus_call_filter(request)
  local resp, err = require("glua_http").get("`+srv.URL+`/hello")
  nauthilus_builtin.custom_log_add("err", err)
  return nauthilus_builtin.FILTER_ACCEPT, 0
end`, engineSetup{})
	if v, _ := logValue(out, "err"); err != nil || !strings.Contains(fmt.Sprint(v), "is not allowed (lua.config.http_client.allowed_hosts)") {
		t.Fatalf("%v, %v", v, err)
	}
}

// A body larger than the run's budget stops the run while it is read.
func TestGluaHTTPBodyChargedToTheBudget(t *testing.T) {
	srv := httpTestServer(t, false)
	cfg := config.LuaConfig{MaxMemory: config.MinLuaMaxMemory}
	cfg.HTTPClient = config.LuaHTTPClient{AllowedHosts: []string{"127.0.0.1"}, Timeout: 5 * time.Second,
		MaxResponseBody: config.MaxLuaHTTPMaxResponseBody, MaxRedirects: 1}
	_, err, _ := runOne(t, `function nauthilus_call_filter(request)
  require("glua_http").get("`+srv.URL+`/big-chunked")
  return nauthilus_builtin.FILTER_ACCEPT, 0
end`, engineSetup{cfg: cfg})
	var se *ScriptError
	if !errors.As(err, &se) || !se.Memory {
		t.Fatalf("want a memory stop, got %v", err)
	}
}

// A slow server is cut off by the run's script_timeout.
func TestGluaHTTPSlowServerVsScriptTimeout(t *testing.T) {
	srv := httpTestServer(t, false)
	cfg := config.LuaConfig{ScriptTimeout: 150 * time.Millisecond}
	cfg.HTTPClient = config.LuaHTTPClient{AllowedHosts: []string{"127.0.0.1"}, Timeout: time.Minute, MaxResponseBody: 1 << 20}
	_, err, _ := runOne(t, `function nauthilus_call_filter(request)
  local resp, err = require("glua_http").get("`+srv.URL+`/slow")
  assert(resp == nil)
  return nauthilus_builtin.FILTER_ACCEPT, 0
end`, engineSetup{cfg: cfg})
	var se *ScriptError
	if !errors.As(err, &se) || !se.Timeout {
		t.Fatalf("want a timeout, got %v", err)
	}
}
