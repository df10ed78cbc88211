package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Lookups of token values and token responses; their kinds follow the
// request lookups of template.go.
const (
	// lookupToken is ${beta_token} (the token request named default),
	// ${beta_tokens.NAME} or ${backends.LABEL.beta_tokens.NAME}; text is
	// the name. Only a backend's own attributes may use its tokens.
	lookupToken lookupKind = 100 + iota
	// Token responses, only in a beta_token_request's token and ttl:
	lookupRespJSON   // ${backend_response.json_body.a.b}; text is "a.b"
	lookupRespHeader // ${backend_response.headers.NAME}
	lookupRespStatus // ${backend_response.status}
	lookupRespBody   // ${backend_response.body}
)

// tokenData is what token lookups read: the resolved tokens of the
// backend, or the response a token request got.
type tokenData struct {
	tokens []namedToken
	resp   *tokenResponse
}

type namedToken struct{ name, value string }

// tokenResponse is a token endpoint's answer, its body bounded.
type tokenResponse struct {
	status int
	header http.Header
	body   []byte
	json   any // the body parsed, when it is JSON
	parsed bool
}

func (r *tokenResponse) jsonBody() any {
	if !r.parsed {
		r.parsed = true
		d := json.NewDecoder(bytes.NewReader(r.body))
		d.UseNumber()
		if d.Decode(&r.json) != nil {
			r.json = nil
		}
	}
	return r.json
}

// parseTokenLookup parses the token placeholders; ok is false for others.
func parseTokenLookup(expr string) (part templatePart, ok bool, err error) {
	switch {
	case expr == "beta_token":
		return templatePart{kind: lookupToken, text: "default"}, true, nil
	case strings.HasPrefix(expr, "beta_tokens."):
		return tokenName(strings.TrimPrefix(expr, "beta_tokens."), expr)
	case strings.HasPrefix(expr, "backends."):
		rest := strings.TrimPrefix(expr, "backends.")
		label, name, found := strings.Cut(rest, ".beta_tokens.")
		if !found || label == "" {
			return templatePart{}, false, nil
		}
		p, ok, err := tokenName(name, expr)
		p.label = label
		return p, ok, err
	case expr == "backend_response.status":
		return templatePart{kind: lookupRespStatus}, true, nil
	case expr == "backend_response.body":
		return templatePart{kind: lookupRespBody}, true, nil
	case strings.HasPrefix(expr, "backend_response.headers."):
		name := strings.TrimPrefix(expr, "backend_response.headers.")
		if name == "" {
			return templatePart{}, true, fmt.Errorf("${%s}: a header name is missing", expr)
		}
		return templatePart{kind: lookupRespHeader, text: http.CanonicalHeaderKey(name)}, true, nil
	case expr == "backend_response.json_body" || strings.HasPrefix(expr, "backend_response.json_body."):
		return templatePart{kind: lookupRespJSON, text: strings.TrimPrefix(strings.TrimPrefix(expr, "backend_response.json_body"), ".")}, true, nil
	}
	return templatePart{}, false, nil
}

func tokenName(name, expr string) (templatePart, bool, error) {
	if name == "" || strings.ContainsAny(name, ". ") {
		return templatePart{}, true, fmt.Errorf("${%s}: expected a token request name", expr)
	}
	return templatePart{kind: lookupToken, text: name}, true, nil
}

// tokenLookup evaluates a token placeholder.
func (p templatePart) tokenLookup(rd *requestData) string {
	if rd == nil || rd.tok == nil {
		return ""
	}
	if p.kind == lookupToken {
		for _, t := range rd.tok.tokens {
			if t.name == p.text {
				return t.value
			}
		}
		return ""
	}
	r := rd.tok.resp
	if r == nil {
		return ""
	}
	switch p.kind {
	case lookupRespStatus:
		return strconv.Itoa(r.status)
	case lookupRespBody:
		return string(r.body)
	case lookupRespHeader:
		return r.header.Get(p.text)
	case lookupRespJSON:
		return jsonAt(r.jsonBody(), p.text)
	}
	return ""
}

// jsonAt follows a dotted path (object keys, array indexes) and writes the
// value as Couper does: strings as they are, numbers without exponent,
// objects and arrays as JSON, null and missing values as "".
func jsonAt(v any, path string) string {
	if path != "" {
		for seg := range strings.SplitSeq(path, ".") {
			switch x := v.(type) {
			case map[string]any:
				v = x[seg]
			case []any:
				i, err := strconv.Atoi(seg)
				if err != nil || i < 0 || i >= len(x) {
					return ""
				}
				v = x[i]
			default:
				return ""
			}
		}
	}
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// tokenScope is what the compiler allows token placeholders to read.
type tokenScope struct {
	label    string          // the backend's label ("" for an anonymous one)
	names    map[string]bool // its token requests
	response bool            // compiling a token request's token or ttl
	// shared: the value is fetched once for every request (token
	// requests, oauth2), so it must not read the client request.
	shared bool
}

// checkTokenParts refuses placeholders t may not use where it is written.
func (c *compiler) checkTokenParts(path string, t *template) {
	s := c.tokens
	for _, p := range t.parts {
		switch {
		case p.kind == lookupLiteral:
		case p.kind == lookupToken:
			switch {
			case s.names == nil:
				c.fail(path, fmt.Errorf("beta_token values are only available in the attributes of a backend with beta_token_request"))
			case p.label != "" && p.label != s.label:
				c.fail(path, fmt.Errorf("backends.%s.beta_tokens: only the backend's own tokens are available here", p.label))
			case !s.names[p.text]:
				c.fail(path, fmt.Errorf("no beta_token_request named %q in this backend", p.text))
			}
		case p.kind > lookupToken:
			if !s.response {
				c.fail(path, fmt.Errorf("backend_response values are only available in a beta_token_request's token and ttl"))
			}
		case s.shared:
			c.fail(path, fmt.Errorf("must not read the client request: the token is fetched once for all requests"))
		}
	}
}
