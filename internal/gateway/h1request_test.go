package gateway

import (
	"bufio"
	"bytes"
	"net/http"
	"net/url"
	"testing"
)

// writeBoth writes req with writeRequestFast and with Request.Write; ok
// false when the fast path declined (then it must have written nothing).
func writeBoth(t *testing.T, req *http.Request) (fast, std string, ok bool) {
	t.Helper()
	var a bytes.Buffer
	bw := bufio.NewWriter(&a)
	ok = writeRequestFast(bw, req)
	bw.Flush()
	if !ok {
		if a.Len() != 0 {
			t.Fatalf("declined but wrote %q", a.String())
		}
		return "", "", false
	}
	var b bytes.Buffer
	if err := req.Write(&b); err != nil {
		t.Fatalf("Request.Write: %v", err)
	}
	return a.String(), b.String(), true
}

func TestFastRequestHeadIsRequestWrite(t *testing.T) {
	u := func(s string) *url.URL {
		v, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		name     string
		req      *http.Request
		wantFast bool
	}{
		{"plain GET", &http.Request{Method: "GET", URL: u("http://127.0.0.1:8080/a/b?x=1&y=%20"), Header: http.Header{
			"Accept": {"*/*"}, "X-Forwarded-For": {"10.0.0.1"}, "Couper-Request-Id": {"abc"}, "User-Agent": {""}}}, true},
		{"default agent", &http.Request{Method: "GET", URL: u("http://example.org"), Header: http.Header{}}, true},
		{"agent and host set", &http.Request{Method: "HEAD", Host: "api.example.org:8443", URL: u("http://127.0.0.1/x"),
			Header: http.Header{"User-Agent": {"  curl/8  "}, "Host": {"ignored"}, "Content-Length": {"9"}, "A": {" v1 ", "v2"}, "Nil": nil}}, true},
		{"empty path", &http.Request{Method: "GET", URL: &url.URL{Scheme: "http", Host: "h", RawQuery: "q"}, Header: http.Header{}}, true},
		{"ipv6", &http.Request{Method: "GET", URL: u("http://[::1]:80/"), Header: http.Header{}}, true},
		{"POST", &http.Request{Method: "POST", URL: u("http://h/"), Header: http.Header{}}, false},
		{"DELETE", &http.Request{Method: "DELETE", URL: u("http://h/"), Header: http.Header{}}, false},
		{"close", &http.Request{Method: "GET", URL: u("http://h/"), Header: http.Header{}, Close: true}, false},
		{"unicode host", &http.Request{Method: "GET", URL: u("http://bücher.example/"), Header: http.Header{}}, false},
		{"zone", &http.Request{Method: "GET", URL: u("http://[fe80::1%25eth0]:80/"), Header: http.Header{}}, false},
		{"line break", &http.Request{Method: "GET", URL: u("http://h/"), Header: http.Header{"X": {"a\r\nb"}}}, false},
		{"agent line break", &http.Request{Method: "GET", URL: u("http://h/"), Header: http.Header{"User-Agent": {"a\nb"}}}, false},
		{"bad name", &http.Request{Method: "GET", URL: u("http://h/"), Header: http.Header{"X Y": {"a"}}}, false},
		{"opaque", &http.Request{Method: "GET", URL: &url.URL{Scheme: "http", Opaque: "//h/p", Host: "h"}, Header: http.Header{}}, false},
		{"trailer", &http.Request{Method: "GET", URL: u("http://h/"), Header: http.Header{}, Trailer: http.Header{"T": nil}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fast, std, ok := writeBoth(t, c.req)
			if ok != c.wantFast {
				t.Fatalf("fast path taken: %v, want %v", ok, c.wantFast)
			}
			if ok && fast != std {
				t.Errorf("fast:\n%q\nRequest.Write:\n%q", fast, std)
			}
		})
	}
}

func FuzzFastRequestHead(f *testing.F) {
	f.Add("GET", "http://127.0.0.1:8080/a?b=c", "X-A", " v ", "ua", "")
	f.Add("HEAD", "http://h", "Accept", "*/*", "", "h2:1")
	f.Fuzz(func(t *testing.T, method, rawURL, name, value, agent, host string) {
		u, err := url.Parse(rawURL)
		if err != nil {
			return
		}
		req := &http.Request{Method: method, URL: u, Host: host, Header: http.Header{name: {value}, "User-Agent": {agent}}}
		var b bytes.Buffer
		if err := req.Write(&b); err != nil {
			var a bytes.Buffer
			bw := bufio.NewWriter(&a)
			if writeRequestFast(bw, req) {
				t.Fatalf("Request.Write refuses (%v) what the fast path writes", err)
			}
			return
		}
		if fast, std, ok := writeBoth(t, req); ok && fast != std {
			t.Fatalf("fast:\n%q\nRequest.Write:\n%q", fast, std)
		}
	})
}
