package auth

import (
	"net/http"
	"net/textproto"
	"net/url"
	"sort"
)

// Request headers are read by their canonical names, found once here.
// http.Header.Get canonicalises the name on every call, and names such as
// "X-Client-ID" or "Auth-SSL" are not canonical, so each lookup allocated:
// 20 allocations per nginx request, the most of any single place.

// headerName is a header as written in docs and errors, and its map key.
type headerName struct{ name, key string }

func canonical(names ...string) []headerName {
	out := make([]headerName, len(names))
	for i, n := range names {
		out[i] = headerName{name: n, key: textproto.CanonicalMIMEHeaderKey(n)}
	}
	return out
}

// sslHeaderList is sslHeaders in a fixed order, with canonical keys.
var sslHeaderList = func() []struct {
	headerName
	field string
} {
	names := make([]string, 0, len(sslHeaders))
	for h := range sslHeaders {
		names = append(names, h)
	}
	sort.Strings(names)
	out := make([]struct {
		headerName
		field string
	}, len(names))
	for i, h := range canonical(names...) {
		out[i].headerName, out[i].field = h, sslHeaders[h.name]
	}
	return out
}()

var singleValuedKeys = canonical(singleValuedHeaders...)

// get is Header.Get for a canonical key.
func (n headerName) get(h http.Header) string {
	if v := h[n.key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// count is len(Header.Values) for a canonical key.
func (n headerName) count(h http.Header) int { return len(h[n.key]) }

// requestQuery is r.URL.Query(), or nil (read as empty) without a query,
// as nginx sends it.
func requestQuery(r *http.Request) url.Values {
	if r.URL.RawQuery == "" {
		return nil
	}
	return r.URL.Query()
}
