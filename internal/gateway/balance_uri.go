package gateway

import "net/http"

// uriKey hashes the request's path (uri_hash), for cache locality: each
// path is served by one origin, so that origin's cache holds it.
//
// The key is the path alone, HAProxy's balance uri default: a query
// string of cache busters or tracking parameters (?v=3, ?utm_source=)
// would otherwise scatter one resource over every origin. Caddy's
// uri_hash hashes the query too; an application whose resources differ
// by query alone should use header_hash on a header it sets instead.
//
// It is the path as the client sent it and the router matched it
// (URL.Path: percent-decoded, before path_prefix, path or a wildcard
// rewrote it upstream), read in place: no allocation per request.
type uriKey struct{}

func (uriKey) key(c *call) requestKey { return pathKey(c.clientRequest()) }

// pathKey is uriKey's key of r. A request without a path (none the
// router admits) has no key and goes round robin.
func pathKey(r *http.Request) requestKey {
	if r == nil || r.URL == nil || r.URL.Path == "" {
		return requestKey{}
	}
	return requestKey{hash: hashString(r.URL.Path), ok: true}
}
