package gateway

import (
	"bufio"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
)

// The plain listener's request heads are read here (h1server.go says
// why the gateway has its own HTTP/1.1 server). The rules are RFC 9112's
// as net/http applies them, made strict where net/http leaves a request
// smuggling question to the handler: a head that asks for both
// Content-Length and Transfer-Encoding, or Transfer-Encoding in HTTP/1.0,
// is answered 400 by the gateway (framing verdict) and the connection
// closed. FuzzServerHead holds every head accepted here to what
// http.ReadRequest makes of the same bytes.

// headError is a head the server answers itself and then closes.
type headError struct {
	status int
	text   string // after the status line's text in the plain-text body
}

func (e *headError) Error() string { return strconv.Itoa(e.status) + " " + e.text }

func badHead(text string) *headError { return &headError{status: http.StatusBadRequest, text: text} }

var errRequestHeadTooLarge = &headError{status: http.StatusRequestHeaderFieldsTooLarge}

// serverHead is one parsed request head, with what the server needs
// beyond the *http.Request.
type serverHead struct {
	req        *http.Request
	url        url.URL        // r.URL of an origin-form target, kept with the head (one allocation)
	values     [16]string     // the header values of a head of up to 16 fields, likewise
	resp       serverResponse // the request's response writer, likewise
	fields     clientFields   // the head's fields as they came, for a plain proxy (plain.go)
	ctxReq     http.Request   // req with the request's context, as the handler gets it
	chunked    bool
	verdict    framingVerdict
	wantsClose bool
	expect100  bool
}

// headReader reads heads from one connection; its scratch space is kept
// between requests.
type headReader struct {
	br    *bufio.Reader
	limit int    // bytes a head may take
	line  []byte // a line longer than br's buffer, joined
	text  []byte // the head's field lines, copied out of br
	spans []fieldSpan
}

type fieldSpan struct{ name, value [2]int }

// readLine returns the next line without its line end (CRLF or a bare
// LF, as net/http takes). The slice is valid until the next read.
func (hr *headReader) readLine(used *int) ([]byte, error) {
	l, err := hr.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		hr.line = append(hr.line[:0], l...)
		for err == bufio.ErrBufferFull {
			if *used+len(hr.line) > hr.limit {
				return nil, errRequestHeadTooLarge
			}
			l, err = hr.br.ReadSlice('\n')
			hr.line = append(hr.line, l...)
		}
		l = hr.line
	}
	*used += len(l)
	if err != nil {
		return nil, err
	}
	if *used > hr.limit {
		return nil, errRequestHeadTooLarge
	}
	l = l[:len(l)-1]
	if n := len(l); n > 0 && l[n-1] == '\r' {
		l = l[:n-1]
	}
	return l, nil
}

// read parses one head. Errors are *headError (answered) or read errors
// (the connection just ends).
func (hr *headReader) read(remote string, into *http.Request) (*serverHead, error) {
	used := 0
	line, err := hr.readLine(&used)
	if err != nil {
		return nil, err
	}
	method, target, proto, perr := parseRequestLine(line)
	if perr != nil {
		return nil, perr
	}
	// The target goes first into the copied text: one string holds it
	// and every field (the line itself is gone with the next read).
	hr.text, hr.spans = append(hr.text[:0], target...), hr.spans[:0]
	for {
		l, err := hr.readLine(&used)
		if err != nil {
			return nil, err
		}
		if len(l) == 0 {
			break
		}
		if err := hr.addField(l); err != nil {
			return nil, err
		}
	}
	sh, err := hr.build(method, len(target), proto, remote, into)
	hr.release()
	return sh, err
}

// keptScratch is the scratch space a connection keeps between heads; a
// head with more (up to the 64 KiB limit) gets its own, dropped after it,
// so idle connections do not each hold their largest head.
const keptScratch = 8 << 10

func (hr *headReader) release() {
	if cap(hr.line) > keptScratch {
		hr.line = nil
	}
	if cap(hr.text) > keptScratch {
		hr.text = nil
	}
	if cap(hr.spans) > 256 {
		hr.spans = nil
	}
}

// addField checks one field line and copies it into hr.text.
func (hr *headReader) addField(l []byte) error {
	name, v, err := checkFieldLine(l)
	if err != nil {
		return err
	}
	var s fieldSpan
	s.name[0] = len(hr.text)
	hr.text = append(hr.text, name...)
	s.name[1] = len(hr.text)
	s.value[0] = s.name[1]
	hr.text = append(hr.text, v...)
	s.value[1] = len(hr.text)
	hr.spans = append(hr.spans, s)
	return nil
}

// checkFieldLine splits a field line into its name and its value without
// the surrounding whitespace, or says why it is refused.
func checkFieldLine(l []byte) (name, value []byte, err error) {
	if l[0] == ' ' || l[0] == '\t' {
		return nil, nil, badHead("obsolete line folding") // RFC 9112 §5.2: reject, or a peer may unfold differently
	}
	colon := -1
	for i, b := range l {
		if b == ':' {
			colon = i
			break
		}
		if !isTokenByte(b) {
			return nil, nil, badHead("invalid header name")
		}
	}
	if colon <= 0 {
		return nil, nil, badHead("malformed header line")
	}
	v := l[colon+1:]
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	for _, b := range v {
		if (b < ' ' && b != '\t') || b == 0x7f {
			return nil, nil, badHead("invalid header value")
		}
	}
	return l[:colon], v, nil
}

func parseRequestLine(line []byte) (method string, target []byte, proto int, err error) {
	sp1 := indexByte(line, ' ')
	if sp1 <= 0 {
		return "", nil, 0, badHead("malformed request line")
	}
	rest := line[sp1+1:]
	sp2 := indexByte(rest, ' ')
	if sp2 <= 0 {
		return "", nil, 0, badHead("malformed request line")
	}
	m, t, v := line[:sp1], rest[:sp2], rest[sp2+1:]
	for _, b := range m {
		if !isTokenByte(b) {
			return "", nil, 0, badHead("invalid method")
		}
	}
	for _, b := range t {
		if b <= ' ' || b == 0x7f {
			return "", nil, 0, badHead("invalid request target")
		}
	}
	switch string(v) {
	case "HTTP/1.1":
		proto = 1
	case "HTTP/1.0":
		proto = 0
	default:
		if len(v) == 8 && string(v[:5]) == "HTTP/" && v[5] >= '2' && v[5] <= '9' && v[6] == '.' && v[7] >= '0' && v[7] <= '9' {
			return "", nil, 0, &headError{status: http.StatusHTTPVersionNotSupported, text: "unsupported protocol version"}
		}
		return "", nil, 0, badHead("malformed HTTP version")
	}
	return commonMethod(m), t, proto, nil
}

// commonMethod returns the method's string without an allocation for the
// usual ones.
func commonMethod(m []byte) string {
	switch string(m) {
	case "GET":
		return http.MethodGet
	case "POST":
		return http.MethodPost
	case "HEAD":
		return http.MethodHead
	case "PUT":
		return http.MethodPut
	case "DELETE":
		return http.MethodDelete
	case "OPTIONS":
		return http.MethodOptions
	case "PATCH":
		return http.MethodPatch
	}
	return string(m)
}

// build makes the request from the copied fields: one string holds them
// all, names and values are substrings of it (a name that is not in
// canonical form gets its own).
func (hr *headReader) build(method string, targetLen, minor int, remote string, r *http.Request) (*serverHead, error) {
	text := string(hr.text)
	target := text[:targetLen]
	h := make(http.Header, len(hr.spans)+2)
	sh := &serverHead{}
	// The spans stay valid while the request runs: the connection reads
	// no other head until it is answered.
	sh.fields = clientFields{text: text, spans: hr.spans}
	var values []string
	if n := len(hr.spans); n <= len(sh.values) {
		values = sh.values[:n:n]
	} else {
		values = make([]string, n)
	}
	var hosts, lengths, encodings, expects, connections int
	for i, s := range hr.spans {
		name := canonicalName(text[s.name[0]:s.name[1]])
		v := text[s.value[0]:s.value[1]]
		values[i] = v
		if old, ok := h[name]; ok {
			h[name] = append(old, v)
		} else {
			h[name] = values[i : i+1 : i+1]
		}
		switch name {
		case "Host":
			hosts++
		case "Content-Length":
			lengths++
		case "Transfer-Encoding":
			encodings++
		case "Expect":
			expects++
		case "Connection":
			connections++
		}
	}
	*r = http.Request{
		Method:     method,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: minor,
		Header:     h,
		RequestURI: target,
		RemoteAddr: remote,
		Body:       http.NoBody,
	}
	if minor == 0 {
		r.Proto = "HTTP/1.0"
	}
	sh.req = r
	if err := parseTarget(r, target, &sh.url); err != nil {
		return nil, err
	}
	if err := takeHost(r, h, hosts); err != nil {
		return nil, err
	}
	if connections > 0 {
		sh.wantsClose = hasToken(h["Connection"], "close") || (minor == 0 && !hasToken(h["Connection"], "keep-alive"))
	} else {
		sh.wantsClose = minor == 0
	}
	if err := sh.framing(h, lengths, encodings); err != nil {
		return nil, err
	}
	if expects > 0 {
		// As net/http: the first Expect field decides; "100-continue" is
		// honoured in HTTP/1.1 and ignored in HTTP/1.0, anything else 417.
		if !hasToken(h["Expect"][:1], "100-continue") {
			return nil, &headError{status: http.StatusExpectationFailed, text: "unsupported Expect"}
		}
		sh.expect100 = minor == 1 && r.ContentLength != 0
	}
	r.Close = sh.wantsClose
	return sh, nil
}

// framing decides the body's length (RFC 9112 §6.3).
func (sh *serverHead) framing(h http.Header, lengths, encodings int) error {
	r := sh.req
	if encodings > 0 {
		te := h["Transfer-Encoding"]
		switch {
		case r.ProtoMinor == 0:
			sh.verdict = framingVerdict{refuse: "Transfer-Encoding in an HTTP/1.0 request", closeAfter: true}
			return nil
		case lengths > 0:
			sh.verdict = framingVerdict{refuse: "both Content-Length and Transfer-Encoding", closeAfter: true}
			return nil
		case len(te) != 1 || !strings.EqualFold(te[0], "chunked"):
			return &headError{status: http.StatusNotImplemented, text: "unsupported transfer encoding"}
		}
		delete(h, "Transfer-Encoding")
		r.TransferEncoding = []string{"chunked"}
		r.ContentLength = -1
		sh.chunked = true
		return nil
	}
	if lengths == 0 {
		return nil
	}
	cl := h["Content-Length"]
	for _, v := range cl[1:] {
		if v != cl[0] {
			return badHead("conflicting Content-Length fields")
		}
	}
	n, ok := parseLength(cl[0])
	if !ok {
		return badHead("bad Content-Length")
	}
	if len(cl) > 1 {
		h["Content-Length"] = cl[:1]
	}
	r.ContentLength = n
	return nil
}

// parseLength takes decimal digits only: no sign, no spaces, no list.
func parseLength(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true
}

// parseTarget fills r.URL (and r.Host for an absolute target) as
// net/http does: origin form, absolute form, "*", and CONNECT's
// authority form. The usual origin-form target of plain bytes is taken
// apart here, into u, as url.ParseRequestURI would (FuzzServerHead
// compares the two); anything else goes to url.ParseRequestURI.
func parseTarget(r *http.Request, target string, u *url.URL) error {
	if plainOriginForm(target) {
		path, query, hasQuery := strings.Cut(target, "?")
		*u = url.URL{Path: path, RawQuery: query, ForceQuery: hasQuery && query == ""}
		r.URL = u
		return nil
	}
	raw := target
	authority := r.Method == http.MethodConnect && !strings.HasPrefix(target, "/")
	if authority {
		raw = "http://" + target
	}
	parsed, err := url.ParseRequestURI(raw)
	if err != nil {
		return badHead("invalid request target")
	}
	if authority {
		parsed.Scheme = ""
	}
	r.URL = parsed
	r.Host = parsed.Host
	return nil
}

// plainOriginForm says whether target is "/path[?query]" whose path holds
// only bytes url.URL keeps as they are (no escapes: Path is the target's
// path and RawPath stays empty) and whose query holds visible ASCII.
func plainOriginForm(target string) bool {
	if len(target) == 0 || target[0] != '/' {
		return false
	}
	i := 0
	for ; i < len(target) && target[i] != '?'; i++ {
		if !plainPathByte[target[i]] {
			return false
		}
	}
	for i++; i < len(target); i++ {
		if c := target[i]; c <= ' ' || c >= 0x7f || c == '#' {
			return false
		}
	}
	return true
}

// plainPathByte: the bytes url.URL's path escaping leaves alone.
var plainPathByte = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "-_.~$&+,/:;=@" {
		t[c] = true
	}
	return t
}()

// takeHost moves the Host field to r.Host (RFC 9112 §3.2: exactly one in
// HTTP/1.1; an absolute target's authority wins over it).
func takeHost(r *http.Request, h http.Header, hosts int) error {
	switch {
	case hosts > 1:
		return badHead("too many Host headers")
	case hosts == 0 && r.ProtoMinor == 1 && r.Method != http.MethodConnect:
		return badHead("missing required Host header")
	}
	if hosts == 1 {
		v := h["Host"][0]
		if !validHost(v) {
			return badHead("malformed Host header")
		}
		if r.Host == "" {
			r.Host = v
		}
		delete(h, "Host")
	}
	return nil
}

// validHost allows the bytes a Host field may hold (RFC 3986's reg-name,
// IP literals and port, as net/http: ASCII only).
func validHost(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!$%&'()*+,-.:;=[]_~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// canonicalName returns name in canonical form, itself when it is one.
func canonicalName(name string) string {
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if (upper && c >= 'a' && c <= 'z') || (!upper && c >= 'A' && c <= 'Z') {
			return textproto.CanonicalMIMEHeaderKey(name)
		}
		upper = c == '-'
	}
	return name
}

// hasToken reports whether a comma-separated field has token (any case).
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.Trim(part, " \t"), token) {
				return true
			}
		}
	}
	return false
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// isTokenByte: RFC 9110 §5.6.2 tchar.
func isTokenByte(b byte) bool { return tokenByte[b] }
