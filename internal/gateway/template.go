package gateway

import (
	"fmt"
	"net/http"
	"os"
	"strings"
)

// lookupKind says where a template placeholder takes its value from.
type lookupKind uint8

const (
	lookupLiteral lookupKind = iota
	lookupHeader
	lookupQuery
	lookupPathParam
	lookupMethod
	lookupPath
	lookupHost
	lookupID // the request id (Couper's request.id)
)

// templatePart is a literal or one request lookup.
type templatePart struct {
	kind  lookupKind
	text  string // the literal, or the header/query/param name
	label string // backends.LABEL.beta_tokens (template_tokens.go)
}

// template is a value parsed once at load; evaluating it per request is a
// walk over its parts, without parsing or reflection. ${env.NAME} is
// resolved at load, so only request lookups remain.
type template struct {
	parts []templatePart
	// static holds the whole value when there is no request lookup.
	static string
	fixed  bool
	// source is what the operator wrote, for messages.
	source string
}

// requestData is what templates can read about the client request.
type requestData struct {
	req    *http.Request
	params []pathParam
	id     string     // the request id (logs, the upstream request id header)
	tok    *tokenData // tokens and token responses (template_tokens.go)
	origin string     // the origin balanceLayer chose last (access log); "" with one origin
}

type pathParam struct{ name, value string }

// compileTemplate parses s. `$${` writes a literal `${`.
func compileTemplate(s string, env func(string) (string, bool)) (template, error) {
	if env == nil {
		env = os.LookupEnv
	}
	t := template{source: s}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.parts = append(t.parts, templatePart{kind: lookupLiteral, text: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			lit.WriteString("${")
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return t, fmt.Errorf("unterminated ${ in %q", s)
			}
			expr := strings.TrimSpace(s[i+2 : i+end])
			i += end + 1
			part, err := parseLookup(expr, env)
			if err != nil {
				return t, err
			}
			if part.kind == lookupLiteral {
				lit.WriteString(part.text)
				continue
			}
			flush()
			t.parts = append(t.parts, part)
		default:
			lit.WriteByte(s[i])
			i++
		}
	}
	flush()
	switch {
	case len(t.parts) == 0:
		t.fixed = true
	case len(t.parts) == 1 && t.parts[0].kind == lookupLiteral:
		t.fixed, t.static = true, t.parts[0].text
	}
	return t, nil
}

// knownLookups is shown when an operator mistypes a placeholder.
const knownLookups = "env.NAME, request.headers.NAME, request.query.NAME, request.path_params.NAME, request.method, request.path, request.host, request.id, beta_token, beta_tokens.NAME, backend_response.*"

func parseLookup(expr string, env func(string) (string, bool)) (templatePart, error) {
	if part, ok, err := parseTokenLookup(expr); ok {
		return part, err
	}
	switch expr {
	case "request.method":
		return templatePart{kind: lookupMethod}, nil
	case "request.path":
		return templatePart{kind: lookupPath}, nil
	case "request.host":
		return templatePart{kind: lookupHost}, nil
	case "request.id":
		return templatePart{kind: lookupID}, nil
	}
	prefixes := []struct {
		prefix string
		kind   lookupKind
	}{
		{"request.headers.", lookupHeader},
		{"request.query.", lookupQuery},
		{"request.path_params.", lookupPathParam},
	}
	for _, p := range prefixes {
		if name, ok := strings.CutPrefix(expr, p.prefix); ok && name != "" {
			if p.kind == lookupHeader {
				name = http.CanonicalHeaderKey(name)
			}
			return templatePart{kind: p.kind, text: name}, nil
		}
	}
	if name, ok := strings.CutPrefix(expr, "env."); ok && name != "" {
		val, found := env(name)
		if !found {
			return templatePart{}, fmt.Errorf("environment variable %s is not set", name)
		}
		return templatePart{kind: lookupLiteral, text: val}, nil
	}
	return templatePart{}, fmt.Errorf("unknown placeholder ${%s} (known: %s)", expr, knownLookups)
}

// usesRequest reports whether the value depends on the request.
func (t *template) usesRequest() bool { return !t.fixed }

// eval returns the value for one request; rd may be nil for fixed values.
func (t *template) eval(rd *requestData) string {
	if t.fixed {
		return t.static
	}
	var b strings.Builder
	for _, p := range t.parts {
		b.WriteString(p.lookup(rd))
	}
	return b.String()
}

func (p templatePart) lookup(rd *requestData) string {
	if p.kind == lookupLiteral {
		return p.text
	}
	if p.kind >= lookupToken {
		return p.tokenLookup(rd)
	}
	if rd == nil || rd.req == nil {
		return ""
	}
	r := rd.req
	switch p.kind {
	case lookupHeader:
		return r.Header.Get(p.text)
	case lookupQuery:
		return r.URL.Query().Get(p.text)
	case lookupPathParam:
		for _, pp := range rd.params {
			if pp.name == p.text {
				return pp.value
			}
		}
	case lookupMethod:
		return r.Method
	case lookupPath:
		return r.URL.Path
	case lookupHost:
		return r.Host
	case lookupID:
		return rd.id
	}
	return ""
}
