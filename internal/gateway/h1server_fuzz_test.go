package gateway

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"
)

// serverHeadSeeds are heads for FuzzServerHead: ordinary ones, and the
// shapes request smuggling and header injection are built from.
var serverHeadSeeds = []string{
	"GET / HTTP/1.1\r\nHost: gw\r\n\r\n",
	"GET /api/x?a=1&b=%20 HTTP/1.1\r\nHost: gw:8080\r\nUser-Agent: curl/8\r\nAccept: */*\r\n\r\n",
	"POST /api/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\n\r\nhello",
	"POST /api/x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	"POST /api/x HTTP/1.1\r\nHost: gw\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
	"GET / HTTP/1.0\r\n\r\n",
	"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: gw\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n",
	"GET http://other:81/p?q HTTP/1.1\r\nHost: gw\r\n\r\n",
	"CONNECT gw:443 HTTP/1.1\r\n\r\n",
	"CONNECT /p HTTP/1.1\r\nHost: gw\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: gw\r\n\r\n",
	"GET / HTTP/1.1\nHost: gw\n\n",
	"GET / HTTP/1.1\r\nHost: gw\r\nX-A: a\rb\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: gw\r\nX-A: a\r\n b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: gw\r\nX-A : a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: gw\r\n: a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: gw\r\nx-lower-case: v\r\nX_Under: v\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: gw\r\nHost: gw\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: g w\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: \xc3\xa9\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: gw\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: gw\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: gw\r\nContent-Length: 3, 3\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: gw\r\nContent-Length: +3\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: gw\r\nContent-Length: 0x3\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: gw\r\nContent-Length: 9223372036854775807\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: gw\r\nContent-Length:\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
	"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: CHUNKED\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding:\tchunked \r\n\r\n",
	"GET / HTTP/1.1\r\nHost: gw\r\nExpect: 100-continue\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: gw\r\nPragma: no-cache\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: gw\r\nConnection: \xc2\x85close\r\n\r\n",
	"GET / HTTP/1.0\r\nConnection: keep-alive\xc2\xa0\r\n\r\n",
	"GET  / HTTP/1.1\r\nHost: gw\r\n\r\n",
	"GET / HTTP/1.2\r\nHost: gw\r\n\r\n",
	"GET / HTTP/2.0\r\nHost: gw\r\n\r\n",
	"GET /\x7f HTTP/1.1\r\nHost: gw\r\n\r\n",
	"GET /\xff HTTP/1.1\r\nHost: gw\r\n\r\n",
	"G@T / HTTP/1.1\r\nHost: gw\r\n\r\n",
	"GET //evil.example/%2e%2e HTTP/1.1\r\nHost: gw\r\n\r\n",
	"GET http://u:p@h/ HTTP/1.1\r\nHost: gw\r\n\r\n",
	"\r\nGET / HTTP/1.1\r\nHost: gw\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: gw\r\nX: \x00\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: gw\r\nX: a\x7f\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: gw\r\nX: \t \r\n\r\n",
	"GET / HTTP/1.1\r\nHost: gw\r\nX: v\r\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: gw\r\n\r\r\n",
}

// FuzzServerHead holds the plain listener's head reader to net/http's:
// a head we accept must be one http.ReadRequest (plus the checks
// net/http's server adds) accepts too, read to the same end, with the
// same method, target, Host, body framing, fields and keep-alive.
// Anything looser here than there is a smuggling or injection risk,
// since everything behind the gateway was written against net/http-like
// parsers.
func FuzzServerHead(f *testing.F) {
	for _, s := range serverHeadSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkServerHead(t, raw)
	})
}

// TestServerHeadSeeds runs the fuzz seeds in ordinary test runs, so a
// regression shows without -fuzz.
func TestServerHeadSeeds(t *testing.T) {
	for i, s := range serverHeadSeeds {
		t.Run(strconv.Itoa(i), func(t *testing.T) { checkServerHead(t, []byte(s)) })
	}
}

func checkServerHead(t *testing.T, raw []byte) {
	t.Helper()
	d := diffServerHead(raw)
	if d == "" {
		return
	}
	if bug := knownHeadBug(raw); bug != "" {
		t.Skip("bug: " + bug)
	}
	t.Fatalf("%q: %s", raw, d)
}

// diffServerHead describes how our reading of raw departs from
// net/http's, or returns "".
func diffServerHead(raw []byte) string {
	ourBr := bufio.NewReaderSize(bytes.NewReader(raw), serverBufSize)
	hr := headReader{br: ourBr, limit: maxClientHead + 4096}
	var ours http.Request
	sh, err := hr.read("192.0.2.1:1234", &ours)
	if err != nil {
		return ""
	}
	if sh.verdict.refuse != "" {
		// TE with CL, or TE in HTTP/1.0: answered 400 and closed by the
		// gateway before anything reads a body.
		if !sh.verdict.closeAfter {
			return fmt.Sprintf("refused head must close: %+v", sh.verdict)
		}
		return ""
	}
	ourRest, _ := io.ReadAll(ourBr)

	theirBr := bufio.NewReader(bytes.NewReader(raw))
	theirs, terr := http.ReadRequest(theirBr)
	if terr == nil {
		terr = netHTTPServerChecks(theirs, rawField(raw, "Host"))
	}
	if terr != nil {
		return fmt.Sprintf("we accept (%s %s host %q), net/http rejects: %v", ours.Method, ours.RequestURI, ours.Host, terr)
	}
	theirRest, _ := io.ReadAll(theirBr)
	if !bytes.Equal(ourRest, theirRest) {
		return fmt.Sprintf("head ends differ: after ours %q, after net/http's %q", ourRest, theirRest)
	}
	if sh.req != &ours {
		return "serverHead.req is not the request read into"
	}
	type view struct {
		Method, URL, RequestURI, Host, Proto string
		Minor                                int
		ContentLength                        int64
		TransferEncoding                     []string
		Close                                bool
	}
	o := view{ours.Method, ours.URL.String(), ours.RequestURI, ours.Host, ours.Proto, ours.ProtoMinor,
		ours.ContentLength, ours.TransferEncoding, sh.wantsClose}
	th := view{theirs.Method, theirs.URL.String(), theirs.RequestURI, theirs.Host, theirs.Proto, theirs.ProtoMinor,
		theirs.ContentLength, theirs.TransferEncoding, theirs.Close}
	if o.URL != th.URL || o.Method != th.Method || o.RequestURI != th.RequestURI || o.Host != th.Host ||
		o.Proto != th.Proto || o.Minor != th.Minor || o.ContentLength != th.ContentLength ||
		!slices.Equal(o.TransferEncoding, th.TransferEncoding) || o.Close != th.Close {
		return fmt.Sprintf("\n ours     %+v\n net/http %+v", o, th)
	}
	ou, tu := *ours.URL, *theirs.URL
	if ou.User.String() != tu.User.String() {
		return fmt.Sprintf("URL users differ: %q, %q", ou.User, tu.User)
	}
	if ou.User, tu.User = nil, nil; ou != tu {
		// Field by field: Path and RawPath can differ where String() agrees.
		return fmt.Sprintf("URL fields differ:\n ours     %#v\n net/http %#v", ou, tu)
	}
	if ours.Close != sh.wantsClose {
		return fmt.Sprintf("r.Close %v, wantsClose %v", ours.Close, sh.wantsClose)
	}
	if sh.chunked != (len(ours.TransferEncoding) == 1) {
		return fmt.Sprintf("chunked %v with TransferEncoding %q", sh.chunked, ours.TransferEncoding)
	}
	th2 := theirs.Header.Clone()
	// net/http adds "Cache-Control: no-cache" next to a "Pragma:
	// no-cache" (HTTP/1.0 compatibility); we pass the head as sent.
	if _, ok := ours.Header["Cache-Control"]; !ok {
		delete(th2, "Cache-Control")
	}
	if !headersEqual(ours.Header, th2) {
		return fmt.Sprintf("fields differ:\n ours     %q\n net/http %q", ours.Header, th2)
	}
	for _, name := range []string{"Host", "Transfer-Encoding"} {
		if _, ok := ours.Header[name]; ok {
			return name + " left in r.Header"
		}
	}
	return ""
}

// netHTTPServerChecks are the head checks net/http's server makes after
// http.ReadRequest (server.go, readRequest), except Expect, where the
// gateway's rule is its own and decides no framing.
func netHTTPServerChecks(r *http.Request, hosts []string) error {
	if r.ProtoMajor != 1 {
		return errString("unsupported protocol version")
	}
	haveHost := hosts != nil
	if r.ProtoAtLeast(1, 1) && (!haveHost || len(hosts) == 0) && r.Method != http.MethodConnect {
		return errString("missing required Host header")
	}
	if len(hosts) > 1 {
		return errString("too many Host headers")
	}
	if len(hosts) == 1 && !httpguts.ValidHostHeader(hosts[0]) {
		return errString("malformed Host header")
	}
	for k, vv := range r.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return errString("invalid header name")
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return errString("invalid header value")
			}
		}
	}
	return nil
}

// rawField is the head's values of a field as net/http's server sees
// them before http.ReadRequest drops them (it reads the head the same
// way: a line, then textproto's field reader).
func rawField(raw []byte, name string) []string {
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw)))
	if _, err := tp.ReadLine(); err != nil {
		return nil
	}
	h, _ := tp.ReadMIMEHeader()
	return h[name]
}

// knownHeadBug names a divergence from net/http reported to the lead
// and not fixed yet (h1server_head.go is his to change): the fuzz skips
// the input so it can look for others. Remove a case with its fix.
func knownHeadBug(raw []byte) string {
	return ""
}

func nonASCII(s string) bool { return strings.ContainsFunc(s, func(r rune) bool { return r >= 0x80 }) }

type errString string

func (e errString) Error() string { return string(e) }

// headersEqual compares two headers, each name's values in order.
func headersEqual(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		vb, ok := b[k]
		if !ok || !slices.Equal(va, vb) {
			return false
		}
	}
	return true
}
