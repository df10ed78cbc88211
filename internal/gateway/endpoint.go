package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/redact"
)

// endpoint is a compiled gateway.endpoints entry.
type endpoint struct {
	path string
	// plain: the endpoint's requests may take the plain lane (plain.go).
	plain     bool
	trusted   trustedProxies // gateway.trusted_proxies (forwarded.go)
	logFields valueSet       // custom_log_fields, for the access log
	mods      modifiers
	proxy     *proxyStage
	request   *requestStage
	backend   *backendView
}

// proxyStage forwards the client request (spec §0 step 2).
type proxyStage struct {
	ws     *wsStage // nil: upgrades are not forwarded
	mods   modifiers
	url    template
	hasURL bool
}

// requestStage builds a new request from its own attributes only.
type requestStage struct {
	method   string
	url      template
	hasURL   bool
	headers  valueSet
	query    paramMods
	body     template
	jsonBody *jsonTemplate
	formBody valueSet
	hasForm  bool
}

// payload evaluates the configured body and its implicit Content-Type.
func (rs *requestStage) payload(rd *requestData) (body []byte, contentType string) {
	switch {
	case rs.jsonBody != nil:
		return rs.jsonBody.appendTo(nil, rd), "application/json"
	case rs.hasForm:
		vals := url.Values{}
		for _, nv := range rs.formBody {
			vals[nv.name] = evalAll(nv.values, rd)
		}
		return []byte(vals.Encode()), "application/x-www-form-urlencoded"
	}
	return []byte(rs.body.eval(rd)), ""
}

// jsonTemplate is json_body compiled at load. Subtrees without request
// placeholders are encoded once; only string leaves that read the request
// are evaluated and encoded per request.
type jsonTemplate struct {
	raw    []byte // the whole encoded subtree, when it is constant
	str    *template
	object bool
	keys   [][]byte // encoded object keys, parallel to items
	items  []jsonTemplate
}

func (c *compiler) jsonTemplate(path string, v any) *jsonTemplate {
	var j jsonTemplate
	switch x := v.(type) {
	case string:
		t := c.template(path, x)
		if t.usesRequest() {
			return &jsonTemplate{str: &t}
		}
		return &jsonTemplate{raw: encodeJSON(t.eval(nil))}
	case []any:
		j.items = make([]jsonTemplate, 0, len(x))
		for i, e := range x {
			j.items = append(j.items, *c.jsonTemplate(fmt.Sprintf("%s[%d]", path, i), e))
		}
	case map[string]any:
		// Sorted, as encoding/json and Couper write objects.
		j.object = true
		names := make([]string, 0, len(x))
		for k := range x {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			j.keys = append(j.keys, encodeJSON(k))
			j.items = append(j.items, *c.jsonTemplate(path+"."+k, x[k]))
		}
	default:
		raw, err := json.Marshal(x)
		if err != nil {
			c.fail(path, err)
			raw = []byte("null")
		}
		return &jsonTemplate{raw: raw}
	}
	for i := range j.items {
		if j.items[i].raw == nil {
			return &j
		}
	}
	return &jsonTemplate{raw: j.appendTo(nil, nil)}
}

func (j *jsonTemplate) appendTo(b []byte, rd *requestData) []byte {
	switch {
	case j.raw != nil:
		return append(b, j.raw...)
	case j.str != nil:
		return append(b, encodeJSON(j.str.eval(rd))...)
	}
	open, end := byte('['), byte(']')
	if j.object {
		open, end = '{', '}'
	}
	b = append(b, open)
	for i := range j.items {
		if i > 0 {
			b = append(b, ',')
		}
		if j.object {
			b = append(append(b, j.keys[i]...), ':')
		}
		b = j.items[i].appendTo(b, rd)
	}
	return append(b, end)
}

// encodeJSON writes s as a JSON string without encoding/json's HTML
// escaping: the body goes to an API, not into a web page.
func encodeJSON(s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// errBadURL is a url attribute that does not evaluate to a usable URL.
type errBadURL struct{ value string }

func (e errBadURL) Error() string {
	return fmt.Sprintf("url attribute: invalid url %q", redact.URL(e.value))
}

// resolveURL applies a proxy/request url: an absolute one also names the
// origin (used when the backend has none); /** takes the wildcard match; a
// url without a query keeps the current one.
func resolveURL(t *template, rd *requestData, rest string, wildcard bool, out *url.URL) (*origin, error) {
	o, err := applyURL(t.eval(rd), rest, wildcard, out)
	return o, blameRequest(err, err != nil && t.usesRequest())
}

func applyURL(raw, rest string, wildcard bool, out *url.URL) (*origin, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errBadURL{raw}
	}
	var o *origin
	if u.IsAbs() {
		parsed, err := parseOrigin(u.Scheme + "://" + u.Host)
		if err != nil {
			return nil, err
		}
		o = &parsed
	}
	if u.Path != "" {
		// As for a backend path: the rules apply to the value, not to
		// the client's /** match.
		if err := checkPath("url", u.Path); err != nil {
			return nil, err
		}
		out.Path, out.RawPath = expandWildcard(u.Path, rest, wildcard), ""
	}
	if u.RawQuery != "" {
		out.RawQuery = escapeQueryBytes(u.RawQuery)
	}
	return o, nil
}

// escapeQueryBytes percent-encodes what may not stand in a request target
// (spaces, control and non-ASCII bytes) that a template put into a query;
// everything else, including existing escapes, stays as written.
func escapeQueryBytes(q string) string {
	fine := func(c byte) bool { return c > ' ' && c < 0x7f && c != '#' }
	first := 0
	for first < len(q) && fine(q[first]) {
		first++
	}
	if first == len(q) {
		return q
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(q)+8)
	b = append(b, q[:first]...)
	for i := first; i < len(q); i++ {
		if c := q[i]; fine(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return string(b)
}

// outgoing builds the upstream request: endpoint modifiers, then the proxy
// or request stage. Returns a configuration error for bad url values.
func (ep *endpoint) outgoing(r *http.Request, rd *requestData, rest string, wildcard bool) (_ *upstream, warning string, err error) {
	up := new(upstream)
	if warning, err = ep.outgoingInto(up, r, rd, rest, wildcard, nil); err != nil {
		return nil, "", err
	}
	return up, warning, nil
}

// outgoingInto is outgoing writing into up, which the caller allocated
// (ServeHTTP: with the rest of the request's state).
// plain, when not nil, are r's fields for the plain lane (plain.go).
func (ep *endpoint) outgoingInto(up *upstream, r *http.Request, rd *requestData, rest string, wildcard bool, plain *clientFields) (warning string, err error) {
	// r's peer is split (and, behind a trusted proxy, parsed and its
	// X-Forwarded-For walked) once for X-Forwarded-For and the forwarded
	// scheme and host.
	fwd := newForwardedView(r, ep.trusted)
	*up = upstream{data: rd, rest: rest, wildcard: wildcard, clientIP: fwd.clientIP()}
	if ep.request != nil {
		rs := ep.request
		var body io.Reader = http.NoBody
		payload, contentType := rs.payload(rd)
		if len(payload) > 0 {
			body = bytes.NewReader(payload)
		}
		out, err := http.NewRequestWithContext(r.Context(), rs.method, "/", body)
		if err != nil {
			return "", err
		}
		if rs.hasURL {
			if up.urlHost, err = resolveURL(&rs.url, rd, rest, wildcard, out.URL); err != nil {
				return "", err
			}
		}
		rs.query.applyQuery(out.URL, rd)
		for _, nv := range rs.headers {
			for _, v := range nv.values {
				out.Header.Add(nv.name, headerValue(v.eval(rd)))
			}
		}
		if _, set := out.Header["Content-Type"]; !set && contentType != "" {
			out.Header.Set("Content-Type", contentType)
		}
		// Like X-Forwarded-For, these describe the client of the request
		// that caused this one; the block's headers may replace them.
		proto, host := fwd.forwarded()
		if _, set := out.Header["X-Forwarded-Proto"]; !set {
			out.Header["X-Forwarded-Proto"] = proto
		}
		if _, set := out.Header["X-Forwarded-Host"]; !set && host != "" {
			out.Header["X-Forwarded-Host"] = []string{host}
		}
		stripHopHeaders(out.Header) // Couper strips them on request round trips too
		up.req = out
		return "", nil
	}

	if plain != nil {
		return "", ep.plainOutgoing(up, r, rd, rest, wildcard, &fwd, plain)
	}
	out := cloneForUpstream(r, &fwd)
	out.RequestURI = ""
	out.Host = ""     // the client's Host is not forwarded
	out.Close = false // the client's Connection: close is about its own connection
	if r.ContentLength == 0 {
		out.Body = http.NoBody
	}
	ep.mods.request.apply(out.Header, rd)
	ep.mods.query.applyQuery(out.URL, rd)
	if warning, err = ep.mods.form.applyForm(out, rd); err != nil {
		return "", err
	}
	ps := ep.proxy
	// Couper's proxy never forwards the client's credentials or cookies.
	out.Header.Del("Authorization")
	out.Header.Del("Cookie")
	if ps.hasURL {
		if up.urlHost, err = resolveURL(&ps.url, rd, rest, wildcard, out.URL); err != nil {
			return "", err
		}
	}
	ps.mods.request.apply(out.Header, rd)
	ps.mods.query.applyQuery(out.URL, rd)
	w2, err := ps.mods.form.applyForm(out, rd)
	if err != nil {
		return "", err
	}
	if warning == "" {
		warning = w2
	}
	stripHopHeaders(out.Header)
	up.upgrade = ps.ws.prepareUpgrade(r, out, rd)
	up.req = out
	return warning, nil
}

// upstreamHeaderRoom is how many header fields the gateway adds to a
// forwarded request (X-Forwarded-Proto, X-Forwarded-Host, X-Forwarded-For,
// the request id, User-Agent, Authorization): the copied map has room for
// them and never grows on the request path.
const upstreamHeaderRoom = 6

// cloneForUpstream is r.Clone(r.Context()) for a request that is forwarded
// once: the header map gets room for what the layers add (Header.Clone
// sizes it exactly, so the first added field reallocated the map), and the
// parsed form, which the outgoing request never reads, is not copied.
// The client's hop-by-hop fields are dropped from the copy first; then
// X-Forwarded-Proto and X-Forwarded-Host are set, before any modifier
// (see setForwardedProtoHost), from what fwd, r's view, works out.
func cloneForUpstream(r *http.Request, fwd *forwardedView) *http.Request {
	// One allocation for the request, its URL and (most often) its values.
	c := new(upstreamCopy)
	out := copyRequest(&c.req, &c.url, r)
	var spare []string
	out.Header, spare = cloneHeader(r.Header, upstreamHeaderRoom, 1, c.values[:])
	// The client's Connection tokens name fields of its own request: they
	// go now, before the gateway and the modifiers write theirs, or
	// "Connection: X-Forwarded-Proto" would delete the gateway's value.
	stripHopHeaders(out.Header)
	fwd.setForwardedProtoHost(out.Header, spare)
	out.Trailer = r.Trailer.Clone()
	out.TransferEncoding = slices.Clone(r.TransferEncoding)
	out.Form, out.PostForm, out.MultipartForm = nil, nil, nil
	return out
}

// copyRequest copies r into out, the context too (as Clone), with its
// URL (and user info) in u; the header map is still r's.
func copyRequest(out *http.Request, u *url.URL, r *http.Request) *http.Request {
	*out = *r
	*u = *r.URL
	if u.User != nil {
		user := *u.User
		u.User = &user
	}
	out.URL = u
	return out
}

// upstreamCopy is what cloneForUpstream allocates: a request's copy with
// room for the values of a common request's fields.
type upstreamCopy struct {
	req    http.Request
	url    url.URL
	values [8]string
}

// cloneHeader copies h into a map with room for extra more fields; the
// values share one backing array (backing when it is large enough), as in
// Header.Clone, which also holds spareValues more for the caller
// (returned, so that its own values cost no allocation of their own).
func cloneHeader(h http.Header, extra, spareValues int, backing []string) (http.Header, []string) {
	n := 0
	for _, vv := range h {
		n += len(vv)
	}
	var values []string
	if size := n + spareValues; size <= len(backing) {
		values = backing[:size:size]
	} else {
		values = make([]string, size)
	}
	out := make(http.Header, len(h)+extra)
	for k, vv := range h {
		if vv == nil {
			out[k] = nil // kept: a nil value means "do not send" to Request.Write
			continue
		}
		m := copy(values, vv)
		out[k] = values[:m:m]
		values = values[m:]
	}
	return out, values
}

// clientIP is the client's address as X-Forwarded-For and the access log
// show it: without an IPv6 zone, which names an interface of this host and
// means nothing to an origin (nginx's $remote_addr has none either).
func clientIP(r *http.Request) string {
	v := newForwardedView(r, nil)
	return v.clientIP()
}

// compileEndpoint builds an endpoint and resolves its backend to the shared
// runtime of its label (or a new anonymous one).
func (g *Gateway) compileEndpoint(c *compiler, path string, e *config.Endpoint) (*endpoint, error) {
	ep := &endpoint{path: e.Path, trusted: g.trusted, mods: c.modifiers(path, &e.Modifiers),
		logFields: c.values(path+".custom_log_fields", e.CustomLogFields)}
	var ref *config.BackendRef
	if e.Proxy != nil {
		ps := &proxyStage{mods: c.modifiers(path+".proxy", &e.Proxy.Modifiers), hasURL: e.Proxy.URL != ""}
		ps.url = c.template(path+".proxy.url", e.Proxy.URL)
		ps.ws = c.wsStage(path+".proxy.websockets", &e.Proxy.Websockets)
		ep.proxy, ref = ps, &e.Proxy.Backend
	} else {
		r := e.Request
		rs := &requestStage{
			method:   r.Method,
			url:      c.template(path+".request.url", r.URL),
			hasURL:   r.URL != "",
			headers:  c.values(path+".request.headers", r.Headers),
			query:    paramMods{set: c.values(path+".request.query_params", r.QueryParams)},
			body:     c.template(path+".request.body", r.Body),
			formBody: c.values(path+".request.form_body", r.FormBody),
			hasForm:  r.FormBody != nil,
		}
		if r.JSONBody.Set {
			rs.jsonBody = c.jsonTemplate(path+".request.json_body", r.JSONBody.Value)
		}
		ep.request, ref = rs, &r.Backend
	}
	bv, err := g.resolveBackend(c, ref, e.Path)
	if err != nil {
		return nil, err
	}
	ep.backend = bv
	return ep, nil
}

// resolveBackend returns the view for a reference: the label's own view, a
// refinement over it, or an anonymous backend.
func (g *Gateway) resolveBackend(c *compiler, ref *config.BackendRef, endpointPath string) (*backendView, error) {
	if ref.Label != "" {
		rt, ok := g.backends[ref.Label]
		if !ok {
			return nil, fmt.Errorf("%s: referenced backend %q is not defined", ref.Path, ref.Label)
		}
		def := g.cfg.Definitions.Backends[ref.Label]
		if ref.Inline == nil {
			return g.views[ref.Label], nil
		}
		merged := def.Refine(ref.Inline)
		for key := range def.Written {
			if _, own := ref.Inline.Written[key]; !own {
				c.inherited = append(c.inherited, merged.Path+"."+key)
			}
		}
		defer func() { c.inherited = nil }()
		return c.backendView(rt, merged), nil
	}
	b := ref.Inline
	if b == nil {
		// Only an absolute url: an anonymous backend with the defaults.
		b = &config.Backend{Written: map[string]int{}, Path: ref.Path}
		b.ConnectTimeout = config.DefaultBackendConnectTimeout
		b.TTFBTimeout = config.DefaultBackendTTFBTimeout
		b.Timeout = config.DefaultBackendTimeout
	}
	rt, err := g.newRuntime(g.anonymousName(endpointPath), b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref.Path, err)
	}
	return c.backendView(rt, b), nil
}
