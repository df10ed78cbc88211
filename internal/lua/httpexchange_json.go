package lua

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
)

// offlineHTTP is the "http" key of a `backline lua test` request: the HTTP
// request a filter's nauthilus_http_request reads.
type offlineHTTP struct {
	Method  string              `json:"method"`
	Path    string              `json:"path"`
	Query   string              `json:"query"`
	Headers map[string][]string `json:"headers"`
	Body    string              `json:"body"`
}

// parseOfflineHTTP reads {"method", "path", "query", "headers": {"Name":
// ["v", ...]}, "body"}; unknown keys are errors, as in the rest of the
// request.
func parseOfflineHTTP(raw json.RawMessage) (*HTTPExchange, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var in offlineHTTP
	if err := dec.Decode(&in); err != nil {
		return nil, fmt.Errorf("request: http: %w (keys: method, path, query, headers, body)", err)
	}
	q, err := url.ParseQuery(in.Query)
	if err != nil {
		return nil, fmt.Errorf("request: http.query: %w", err)
	}
	x := &HTTPExchange{Method: in.Method, Path: in.Path, Query: q, Header: http.Header{}, Body: []byte(in.Body)}
	if x.Method == "" {
		x.Method = http.MethodPost
	}
	if x.Path == "" {
		x.Path = "/api/v1/auth/json"
	}
	if i := strings.IndexByte(x.Path, '?'); i >= 0 {
		return nil, fmt.Errorf("request: http.path %q has a query; put it in http.query", x.Path)
	}
	for name, vs := range in.Headers {
		x.Header[textproto.CanonicalMIMEHeaderKey(name)] = append(x.Header[textproto.CanonicalMIMEHeaderKey(name)], vs...)
	}
	return x, nil
}
