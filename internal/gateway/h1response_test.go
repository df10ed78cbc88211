package gateway

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// fastSeeds are plain answers (taken by the fast path) and near misses
// (left to http.ReadResponse).
var fastSeeds = []string{
	"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhelloNEXT",
	"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 404\r\ncontent-length: 3\r\nx-a: 1\r\nX-A: 2\r\n\r\nabc",
	"HTTP/1.1 502 Bad  Gateway \r\nContent-Length:2\r\nX-Empty:\r\nX-Tab:\tv\t\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
	"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Thu, 03 Dec 2026 12:00:00 GMT\r\nContent-Type: application/octet-stream\r\nContent-Length: 5\r\nConnection: keep-alive\r\nETag: \"6931a0c2-16\"\r\nAccept-Ranges: bytes\r\n\r\nhello",
	"HTTP/1.1 200 OK\r\nConnection: Keep-Alive\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx",
	"HTTP/1.1 200 OK\r\nConnection: keep-alive, Upgrade\r\nContent-Length: 1\r\n\r\nx",
	"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
	"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx",
	"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
	"HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 1\r\n\r\nx",
	"HTTP/1.1 200 OK\nContent-Length: 1\n\nx",
	"HTTP/1.1 200 OK\r\nX : a\r\nContent-Length: 1\r\n\r\nx",
	"HTTP/1.1 200 OK\r\nX: \x01\r\nContent-Length: 1\r\n\r\nx",
	"HTTP/1.1 200 OK\r\nX: caf\xc3\xa9\r\nContent-Length: 1\r\n\r\nx",
	"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx",
	"HTTP/1.1 20x OK\r\nContent-Length: 1\r\n\r\nx",
	"HTTP/1.1 200 OK\r\nPragma: no-cache\r\nContent-Length: 1\r\n\r\nx",
	"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n",
	"HTTP/1.1 200 OK\r\n\r\nuntil close",
	"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
}

// compareWithNetHTTP reads input with the fast path and, from a fresh
// reader, with http.ReadResponse: when the fast path takes the response,
// both must agree on everything the gateway reads, the body and what is
// left after it; when it does not, it must have consumed nothing.
func compareWithNetHTTP(t *testing.T, input string, method string) (fast bool) {
	t.Helper()
	req := &http.Request{Method: method}
	br := bufio.NewReaderSize(strings.NewReader(input), 4096)
	got, _, ok := readResponseFast(br, req, false)
	if !ok {
		if rest, _ := io.ReadAll(br); string(rest) != input {
			t.Fatalf("the fast path declined %q but consumed %d bytes", input, len(input)-len(rest))
		}
		return false
	}
	want, err := http.ReadResponse(bufio.NewReaderSize(strings.NewReader(input), 4096), req)
	if err != nil {
		t.Fatalf("the fast path took %q, http.ReadResponse refuses it: %v", input, err)
	}
	type view struct {
		Status            string
		StatusCode        int
		Proto             string
		Major, Minor      int
		Header            http.Header
		ContentLength     int64
		Close             bool
		TransferEncodings []string
		Trailer           http.Header
	}
	of := func(r *http.Response) view {
		return view{r.Status, r.StatusCode, r.Proto, r.ProtoMajor, r.ProtoMinor, r.Header, r.ContentLength, r.Close, r.TransferEncoding, r.Trailer}
	}
	if g, w := of(got), of(want); !reflect.DeepEqual(g, w) {
		t.Fatalf("%q:\nfast       %+v\nReadResponse %+v", input, g, w)
	}
	wantBR := bufio.NewReaderSize(strings.NewReader(input), 4096)
	want, _ = http.ReadResponse(wantBR, req)
	gotBody, gotErr := io.ReadAll(got.Body)
	wantBody, wantErr := io.ReadAll(want.Body)
	if string(gotBody) != string(wantBody) || !errors.Is(gotErr, wantErr) && !errors.Is(wantErr, gotErr) {
		t.Fatalf("%q: body %q (%v), ReadResponse %q (%v)", input, gotBody, gotErr, wantBody, wantErr)
	}
	gotRest, _ := io.ReadAll(br)
	wantRest, _ := io.ReadAll(wantBR)
	if string(gotRest) != string(wantRest) {
		t.Fatalf("%q: left %q after the body, ReadResponse left %q", input, gotRest, wantRest)
	}
	return true
}

func TestFastResponseHeadAgreesWithNetHTTP(t *testing.T) {
	fast := 0
	for _, in := range fastSeeds {
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodHead} {
			if compareWithNetHTTP(t, in, m) {
				fast++
			}
		}
	}
	// The plain answers above must take the fast path, or it saves nothing.
	for _, in := range fastSeeds[:5] {
		if !compareWithNetHTTP(t, in, http.MethodGet) {
			t.Errorf("the fast path declined the plain answer %q", in)
		}
	}
	if fast == 0 {
		t.Fatal("nothing took the fast path")
	}
}

func FuzzFastResponseHead(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, input string, head bool) {
		method := http.MethodGet
		if head {
			method = http.MethodHead
		}
		compareWithNetHTTP(t, input, method)
	})
}
