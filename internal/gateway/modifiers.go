package gateway

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"

	"github.com/backline/backline/internal/config"
)

// namedValues is one key of a modifier object with its compiled values.
type namedValues struct {
	name   string
	values []template
}

// valueSet is a compiled modifier object in a stable order.
type valueSet []namedValues

// headerMods is remove -> set -> add on one header set.
type headerMods struct {
	remove   []string
	set, add valueSet
}

// paramMods is remove -> set -> add on query or form parameters.
type paramMods struct {
	remove   []string
	set, add valueSet
}

func (m *paramMods) empty() bool { return len(m.remove)+len(m.set)+len(m.add) == 0 }

// modifiers are one block's compiled modifier attributes.
type modifiers struct {
	request, response headerMods
	query, form       paramMods
}

// compiler turns config values into templates and remembers the first error
// with its key path.
type compiler struct {
	cfg  *config.Config
	env  func(string) (string, bool)
	errs config.Errors
	// inherited are the attribute paths of a refinement that come from its
	// definition: their errors were reported where they are written.
	inherited []string
	// views are the compiled backend views; their layers are built once
	// all of them exist.
	views []*backendView
	// tokens says which token placeholders templates may use here.
	tokens tokenScope
}

func (c *compiler) fail(path string, err error) {
	if c.isInherited(path) {
		return
	}
	c.errs.Add(path, c.cfg.Lines.Line(path), "%v", err)
}

// isInherited reports whether path is a refinement's attribute that comes
// from its definition, whose problems are reported at the definition.
func (c *compiler) isInherited(path string) bool {
	for _, p := range c.inherited {
		if path == p || strings.HasPrefix(path, p+".") {
			return true
		}
	}
	return false
}

// envAt resolves ${env.NAME} in the value at path. An unset variable is an
// error, except in a Config loaded for backline check --no-secrets: there
// it is a warning with path and line, and the value is checked with a
// stand-in (config.Config.UnsetEnvStandIn).
func (c *compiler) envAt(path string) func(string) (string, bool) {
	lookup := c.env
	if lookup == nil {
		lookup = os.LookupEnv
	}
	return func(name string) (string, bool) {
		if v, ok := lookup(name); ok {
			return v, true
		}
		if c.isInherited(path) {
			// Warned about where the definition writes it; the stand-in
			// keeps the refinement from failing on it.
			return c.cfg.NoSecretStandIn()
		}
		return c.cfg.UnsetEnvStandIn(path, name)
	}
}

func (c *compiler) template(path, s string) template {
	t, err := compileTemplate(s, c.envAt(path))
	if err != nil {
		c.fail(path, err)
	}
	c.checkTokenParts(path, &t)
	return t
}

func (c *compiler) values(path string, vs config.Values) valueSet {
	out := make(valueSet, 0, len(vs))
	for _, k := range vs.SortedKeys() {
		nv := namedValues{name: k}
		for _, v := range vs[k] {
			nv.values = append(nv.values, c.template(path+"."+k, v))
		}
		out = append(out, nv)
	}
	return out
}

func (c *compiler) modifiers(path string, m *config.Modifiers) modifiers {
	j := func(k string) string { return path + "." + k }
	return modifiers{
		request: headerMods{
			remove: m.RemoveRequestHeaders,
			set:    c.values(j("set_request_headers"), m.SetRequestHeaders),
			add:    c.values(j("add_request_headers"), m.AddRequestHeaders),
		},
		response: headerMods{
			remove: m.RemoveResponseHeaders,
			set:    c.values(j("set_response_headers"), m.SetResponseHeaders),
			add:    c.values(j("add_response_headers"), m.AddResponseHeaders),
		},
		query: paramMods{
			remove: m.RemoveQueryParams,
			set:    c.values(j("set_query_params"), m.SetQueryParams),
			add:    c.values(j("add_query_params"), m.AddQueryParams),
		},
		form: paramMods{
			remove: m.RemoveFormParams,
			set:    c.values(j("set_form_params"), m.SetFormParams),
			add:    c.values(j("add_form_params"), m.AddFormParams),
		},
	}
}

// headerValue strips control bytes other than tab (CR and LF above all) so
// a value taken from the request cannot inject headers or be refused.
func headerValue(s string) string {
	i := 0
	for i < len(s) && !isCTL(s[i]) {
		i++
	}
	if i == len(s) {
		return s
	}
	b := []byte(s[:i])
	for ; i < len(s); i++ {
		if !isCTL(s[i]) {
			b = append(b, s[i])
		}
	}
	return string(b)
}

func isCTL(c byte) bool { return c < ' ' && c != '\t' || c == 0x7f }

func (m *headerMods) apply(h http.Header, rd *requestData) {
	for _, name := range m.remove {
		h.Del(name)
	}
	for _, nv := range m.set {
		h.Del(nv.name)
		for _, v := range nv.values {
			h.Add(nv.name, headerValue(v.eval(rd)))
		}
	}
	for _, nv := range m.add {
		for _, v := range nv.values {
			h.Add(nv.name, headerValue(v.eval(rd)))
		}
	}
}

func (m *paramMods) applyValues(vals url.Values, rd *requestData) {
	for _, name := range m.remove {
		delete(vals, name)
	}
	for _, nv := range m.set {
		vals[nv.name] = evalAll(nv.values, rd)
	}
	for _, nv := range m.add {
		vals[nv.name] = append(vals[nv.name], evalAll(nv.values, rd)...)
	}
}

func evalAll(ts []template, rd *requestData) []string {
	out := make([]string, len(ts))
	for i := range ts {
		out[i] = ts[i].eval(rd)
	}
	return out
}

// applyQuery re-encodes the query with sorted keys, as Couper does once any
// query modifier is present; without modifiers the raw query is untouched.
func (m *paramMods) applyQuery(u *url.URL, rd *requestData) {
	if m.empty() {
		return
	}
	vals := parseRawQuery(u.RawQuery)
	m.applyValues(vals, rd)
	u.RawQuery = encodeQuery(vals)
}

// parseRawQuery splits a query without turning '+' into a space, so a
// literal plus from the client survives the re-encoding as %2B.
func parseRawQuery(raw string) url.Values {
	vals := url.Values{}
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		vals[unescapeQuery(k)] = append(vals[unescapeQuery(k)], unescapeQuery(v))
	}
	return vals
}

func unescapeQuery(s string) string {
	if out, err := url.PathUnescape(s); err == nil {
		return out
	}
	return s
}

// encodeQuery writes sorted keys, values in order, spaces as %20.
func encodeQuery(vals url.Values) string {
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		ek := escapeQuery(k)
		for _, v := range vals[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(ek)
			b.WriteByte('=')
			b.WriteString(escapeQuery(v))
		}
	}
	return b.String()
}

func escapeQuery(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// maxFormBody bounds the body read for form modifiers.
const maxFormBody = 10 << 20

// applyForm rewrites an urlencoded POST body. Other requests keep their body
// and the returned warning says why the modifiers were skipped.
func (m *paramMods) applyForm(r *http.Request, rd *requestData) (warning string, err error) {
	if m.empty() {
		return "", nil
	}
	if r.Method != http.MethodPost {
		return "form_params: method mismatch: " + r.Method, nil
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/x-www-form-urlencoded" {
		return "form_params: content-type mismatch: " + r.Header.Get("Content-Type"), nil
	}
	var raw []byte
	if r.Body != nil {
		raw, err = io.ReadAll(io.LimitReader(r.Body, maxFormBody+1))
		_ = r.Body.Close()
		if err != nil {
			return "", &clientError{fmt.Errorf("reading the form body: %w", err)}
		}
		if len(raw) > maxFormBody {
			return "", fmt.Errorf("%w: more than %d bytes", errFormTooLarge, maxFormBody)
		}
	}
	vals, err := url.ParseQuery(string(raw))
	if err != nil {
		return "", &clientError{fmt.Errorf("form body: %w", err)}
	}
	m.applyValues(vals, rd)
	setBody(r, []byte(vals.Encode()))
	return "", nil
}

// setBody replaces the request body with b.
func setBody(r *http.Request, b []byte) {
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.ContentLength = int64(len(b))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	r.Header.Del("Content-Length")
}

// hopHeaders are connection-scoped (RFC 9110 §7.6.1) and never forwarded.
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

func stripHopHeaders(h http.Header) {
	for _, v := range h["Connection"] {
		for name := range strings.SplitSeq(v, ",") {
			switch name = strings.TrimSpace(name); {
			case name == "":
			case strings.EqualFold(name, "keep-alive"):
				// Most origins say it on every answer: the canonical
				// spelling, without Del's allocation for a lower-case one.
				delete(h, "Keep-Alive")
			case strings.EqualFold(name, "close"):
				delete(h, "Close")
			default:
				h.Del(name)
			}
		}
	}
	for _, name := range hopHeaders {
		delete(h, name) // canonical already: skips Del's canonicalisation
	}
}
