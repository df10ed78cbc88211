package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// The plain lane: a proxied request whose endpoint and backend change
// nothing in it (no modifiers, no request block, no credentials, no
// validation, no custom log fields, no sticky cookie) goes upstream with
// the fields its client sent, as the gateway's HTTP/1.1 server read them,
// and the origin's answer comes back with the fields the origin sent, as
// its head was read: neither is copied into a header map and back out
// (docs/gateway.md, "Performance"). What the lane sends is what the
// header-map path sends for the same request (plain_diff_test.go and
// FuzzPlainLaneMatchesMapPath compare the two): the same fields less hop-by-hop ones, the client's credentials and
// forwarding claims, plus the gateway's X-Forwarded-* and request id.
// Anything the lane does not cover falls back to that path, per endpoint
// (plainProxy) or per request (plainRequest), or, at the transport, per
// destination (an HTTP/2 or proxied pool: upstream.leavePlain).

// clientFields are a request head's fields as the gateway's HTTP/1.1
// server read them: names and values (trimmed) are spans of text, in the
// order they came.
type clientFields struct {
	text  string
	spans []fieldSpan
}

func (f *clientFields) name(i int) string {
	s := f.spans[i].name
	return f.text[s[0]:s[1]]
}

func (f *clientFields) value(i int) string {
	s := f.spans[i].value
	return f.text[s[0]:s[1]]
}

// answerHead is an origin's answer head as readResponseFast read it: its
// fields in order (names as the origin spelled them, checked values), its
// Content-Length, and whether it had a Date.
type answerHead struct {
	fields  []answerField
	length  int64
	hasDate bool
}

type answerField struct{ name, value string }

// header makes the fields a header map; values backs a head of up to
// len(values) fields (the values share one array, as in Header.Clone).
func (a *answerHead) header(values []string) http.Header {
	h := make(http.Header, len(a.fields))
	if len(a.fields) > len(values) {
		values = make([]string, len(a.fields))
	}
	for _, f := range a.fields {
		name := canonicalName(f.name) // a token: canonicalName's letter check is enough
		if prior, repeated := h[name]; repeated {
			h[name] = append(prior, f.value)
			continue
		}
		values[0] = f.value
		h[name] = values[0:1:1]
		values = values[1:]
	}
	return h
}

// answerHeadOf is the raw head of resp when the transport kept one.
func answerHeadOf(resp *http.Response) *answerHead {
	if b, ok := resp.Body.(*h1Body); ok {
		return b.raw
	}
	return nil
}

// plainProxy decides at load whether ep's requests may take the plain
// lane: a proxy endpoint whose blocks change nothing in the request or
// the answer, at any level.
func (g *Gateway) plainProxy(ep *endpoint) bool {
	bv := ep.backend
	switch {
	case ep.request != nil || ep.proxy == nil,
		!ep.mods.empty() || !ep.proxy.mods.empty() || !bv.mods.empty(),
		len(ep.logFields) > 0 || len(bv.logFields) > 0 || len(g.logFields) > 0,
		bv.validator != nil || bv.rt.oauth != nil || len(bv.rt.tokenRequests) > 0,
		bv.setStatus != 0,
		strings.HasPrefix(g.reqIDs.backend, "X-Forwarded-"), // the id replaces that field on the map path; the lane writes both
		bv.basicAuth.usesRequest() || bv.basicAuth.eval(nil) != "":
		return false
	}
	if set := bv.rt.origins; set != nil {
		if k, ok := set.hashKey.(cookieKey); ok && k.set {
			return false // the sticky cookie is added to a header map
		}
	}
	return true
}

func (m *modifiers) empty() bool {
	return m.request.empty() && m.response.empty() && m.query.empty() && m.form.empty()
}

func (m *headerMods) empty() bool { return len(m.remove)+len(m.set)+len(m.add) == 0 }

// plainRequest returns r's fields as its client sent them when r can take
// the plain lane: served by the gateway's own server, a body framed by
// Content-Length (or none), no Upgrade, and a Connection field naming
// nothing but keep-alive or close (a named field would have to be
// dropped before the forwarding fields are read, as cloneForUpstream
// does). nil: the header-map path.
func plainRequest(w http.ResponseWriter, r *http.Request) *clientFields {
	if r.ContentLength < 0 || r.Header["Upgrade"] != nil {
		return nil
	}
	if ua := r.Header["User-Agent"]; len(ua) > 1 || len(ua) == 1 && ua[0] == "" {
		return nil // Request.Write sends the first agent only, and none for ""
	}
	for _, v := range r.Header["Connection"] {
		for token := range strings.SplitSeq(v, ",") {
			token = strings.Trim(token, " \t")
			if token != "" && !strings.EqualFold(token, "keep-alive") && !strings.EqualFold(token, "close") {
				return nil
			}
		}
	}
	switch w := w.(type) {
	case *serverResponse:
		return w.fields
	case *accessWriter:
		if sw, ok := w.ResponseWriter.(*serverResponse); ok {
			return sw.fields
		}
	}
	return nil
}

// plainOutgoing is outgoingInto for a plain request: the upstream copy
// shares r's header map (read only), and the forwarding fields are worked
// out now, as cloneForUpstream sets them.
func (ep *endpoint) plainOutgoing(up *upstream, r *http.Request, rd *requestData, rest string, wildcard bool, fwd *forwardedView, fields *clientFields) error {
	c := &up.plainCopy // with the rest of the request's state: no allocation of its own
	out := copyRequest(&c.req, &c.url, r)
	out.RequestURI, out.Host, out.Close = "", "", false
	out.Form, out.PostForm, out.MultipartForm = nil, nil, nil
	if r.ContentLength == 0 {
		out.Body = http.NoBody
	}
	if ps := ep.proxy; ps.hasURL {
		var err error
		if up.urlHost, err = resolveURL(&ps.url, rd, rest, wildcard, out.URL); err != nil {
			return err
		}
	}
	proto, host := fwd.forwarded()
	up.req, up.plainOn = out, true
	up.plain = plainUpstream{fields: fields, fwd: *fwd, proto: proto, host: host}
	return nil
}

// plainUpstream is what a plain request sends upstream besides its
// client's fields: the forwarding fields and the request id.
type plainUpstream struct {
	fields *clientFields
	fwd    forwardedView // the client request's (fwd.r)
	proto  []string      // X-Forwarded-Proto
	host   string        // X-Forwarded-Host; "": none
	// Set by sendLayer for each attempt.
	forwardedFor string
	idName, id   string
}

// leavePlain turns a plain upstream request back into one with its own
// header map, as outgoingInto makes it for every other request: for a
// transport that takes header maps only.
func (up *upstream) leavePlain() {
	up.req.Header = up.plain.clientHeader()
	up.plainOn = false
}

// clientHeader is the header map outgoingInto makes for a request whose
// blocks change nothing: the client's fields less hop-by-hop ones, the
// forwarding fields set (cloneForUpstream), Authorization and Cookie
// dropped.
func (p *plainUpstream) clientHeader() http.Header {
	h, spare := cloneHeader(p.fwd.r.Header, upstreamHeaderRoom, 1, nil)
	stripHopHeaders(h)
	p.fwd.setForwardedProtoHost(h, spare)
	h.Del("Authorization")
	h.Del("Cookie")
	return h
}

// header is the whole upstream header map of a plain request: what
// leavePlain and sendLayer make of it, for Request.Write.
func (p *plainUpstream) header() http.Header {
	h := p.clientHeader()
	if p.forwardedFor != "" {
		h["X-Forwarded-For"] = []string{p.forwardedFor}
	}
	if p.idName != "" {
		if p.id != "" {
			h[p.idName] = []string{p.id}
		} else {
			delete(h, p.idName)
		}
	}
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = []string{""}
	}
	delete(h, "Expect")
	return h
}

// writeRequestPlain writes req's head from p and the client's fields, and
// its body; false (nothing written) for a host Request.Write would
// rewrite (punycode, zones) or a target with bytes it would refuse.
func writeRequestPlain(bw *bufio.Writer, req *http.Request, p *plainUpstream) (bool, error) {
	target, host, ok := plainRequestLine(req)
	if !ok || req.Method == http.MethodConnect { // CONNECT: Request.Write's target is the host
		return false, nil
	}
	writeRequestLine(bw, req.Method, target, host)
	f := p.fields
	closeNamed := false
	for i := range f.spans {
		if strings.EqualFold(f.name(i), "Connection") && hasToken([]string{f.value(i)}, "close") {
			closeNamed = true
		}
	}
	for i := range f.spans {
		name := f.name(i)
		if notForwarded(name, p.idName, closeNamed) {
			continue
		}
		writeField(bw, name, f.value(i))
	}
	for _, v := range p.proto {
		writeField(bw, "X-Forwarded-Proto", v)
	}
	if p.host != "" {
		writeField(bw, "X-Forwarded-Host", p.host)
	}
	if p.forwardedFor != "" {
		writeField(bw, "X-Forwarded-For", p.forwardedFor)
	}
	if p.idName != "" && p.id != "" {
		writeField(bw, p.idName, p.id)
	}
	if req.Close {
		bw.WriteString("Connection: close\r\n")
	}
	hasBody := req.Body != nil && req.Body != http.NoBody
	switch m := req.Method; {
	case req.ContentLength > 0 && hasBody:
		bw.WriteString("Content-Length: ")
		bw.WriteString(strconv.FormatInt(req.ContentLength, 10))
		bw.WriteString("\r\n")
	case m == http.MethodPost || m == http.MethodPut || m == http.MethodPatch:
		// As Request.Write: many servers want a length for these.
		bw.WriteString("Content-Length: 0\r\n")
	}
	bw.WriteString("\r\n")
	if !hasBody {
		return true, nil
	}
	n, err := io.CopyN(bw, req.Body, req.ContentLength)
	if cerr := req.Body.Close(); err == nil {
		err = cerr
	}
	if err == io.EOF {
		err = fmt.Errorf("http: ContentLength=%d with Body length %d", req.ContentLength, n)
	}
	return true, err
}

func writeField(bw *bufio.Writer, name, value string) {
	bw.WriteString(name)
	bw.WriteString(": ")
	bw.WriteString(value)
	bw.WriteString("\r\n")
}

// notForwarded says whether a client field (any case) stays out of a plain
// request: hop-by-hop fields (and Close when Connection named it), the
// credentials and cookies Couper's proxy never forwards, the forwarding
// fields and request id the gateway writes itself (with the X_Forwarded_
// spellings CGI-style origins read as the same), Host, Expect (the
// gateway answered it) and Content-Length (written from the body's length).
func notForwarded(name, idName string, closeNamed bool) bool {
	if idName != "" && len(name) == len(idName) && strings.EqualFold(name, idName) {
		return true
	}
	switch len(name) {
	case 2:
		return strings.EqualFold(name, "Te")
	case 4:
		return strings.EqualFold(name, "Host")
	case 5:
		return closeNamed && strings.EqualFold(name, "Close")
	case 6:
		return strings.EqualFold(name, "Cookie") || strings.EqualFold(name, "Expect")
	case 7:
		return strings.EqualFold(name, "Upgrade") || strings.EqualFold(name, "Trailer")
	case 10:
		return strings.EqualFold(name, "Connection") || strings.EqualFold(name, "Keep-Alive")
	case 13:
		return strings.EqualFold(name, "Authorization")
	case 14:
		return strings.EqualFold(name, "Content-Length")
	case 15:
		return forwardingName(name, "X-Forwarded-For")
	case 16:
		return strings.EqualFold(name, "Proxy-Connection") || forwardingName(name, "X-Forwarded-Host")
	case 17:
		return strings.EqualFold(name, "Transfer-Encoding") || forwardingName(name, "X-Forwarded-Proto")
	case 18:
		return strings.EqualFold(name, "Proxy-Authenticate")
	case 19:
		return strings.EqualFold(name, "Proxy-Authorization")
	}
	return false
}

// forwardingName matches want in any case, and for X-Forwarded-Proto and
// -Host with underscores for dashes (dropForwardedAliases).
func forwardingName(name, want string) bool {
	if strings.EqualFold(name, want) {
		return true
	}
	if want == "X-Forwarded-For" || strings.IndexByte(name, '_') < 0 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c, w := name[i], want[i]
		if c == '_' {
			c = '-'
		}
		if c != w && c|0x20 != w|0x20 {
			return false
		}
	}
	return true
}

// answerHeadTaker is a ResponseWriter that can write an origin's raw head
// (the gateway's HTTP/1.1 server, and the access log's wrapper of it).
type answerHeadTaker interface{ takeAnswerHead(*answerHead) bool }

// takeAnswerHead makes a the answer's fields, before anything is set.
func (w *serverResponse) takeAnswerHead(a *answerHead) bool {
	if w.wroteHeader || w.hijacked {
		return false
	}
	w.raw = a
	return true
}

func (a *accessWriter) takeAnswerHead(ans *answerHead) bool {
	t, ok := a.ResponseWriter.(answerHeadTaker)
	return ok && t.takeAnswerHead(ans)
}

// writeRawFields writes the origin's fields but hop-by-hop ones and those
// the gateway sets itself (in own, and ownField: the request id), then
// ownField.
func (w *serverResponse) writeRawFields(bw *bufio.Writer, own http.Header) {
	for _, f := range w.raw.fields {
		if hopByHop(f.name) || strings.EqualFold(f.name, w.ownField[0]) {
			continue
		}
		if len(own) > 0 {
			if _, set := own[canonicalName(f.name)]; set {
				continue
			}
		}
		writeField(bw, f.name, f.value)
	}
	if w.ownField[0] != "" {
		writeField(bw, w.ownField[0], w.ownField[1])
	}
}

// setOwnField gives a raw answer the field name: value (canonical name)
// without a header map of its own; false: w does not take it, and the
// caller sets it in w.Header().
func setOwnField(w http.ResponseWriter, name, value string) bool {
	s, ok := w.(*serverResponse)
	if !ok || s.raw == nil || s.headOut {
		return false
	}
	if _, set := s.hdr[name]; set {
		return false // a map value was set already: it stays the one
	}
	s.ownField = [2]string{name, value}
	return true
}

// hopByHop: one of hopHeaders, in any case.
func hopByHop(name string) bool {
	for _, h := range hopHeaders {
		if len(name) == len(h) && strings.EqualFold(name, h) {
			return true
		}
	}
	return false
}

// takeAnswerHead hands a to w when it writes raw heads.
func takeAnswerHead(w http.ResponseWriter, a *answerHead) bool {
	t, ok := w.(answerHeadTaker)
	return ok && t.takeAnswerHead(a)
}
