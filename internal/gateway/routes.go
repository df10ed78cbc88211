package gateway

import (
	"slices"
	"strings"
)

// routeSegment is a literal or a {param} of an endpoint path.
type routeSegment struct {
	literal string
	param   string
}

// route is a compiled endpoint path.
type route struct {
	segments []routeSegment
	wildcard bool
	literals int
	methods  []string // empty: all
	endpoint *endpoint
	order    int
}

func compileRoute(pattern string) route {
	var r route
	trimmed := strings.TrimPrefix(pattern, "/")
	if trimmed == "" {
		return r
	}
	for _, s := range strings.Split(trimmed, "/") {
		switch {
		case s == "**":
			r.wildcard = true
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
			r.segments = append(r.segments, routeSegment{param: s[1 : len(s)-1]})
		default:
			r.segments = append(r.segments, routeSegment{literal: s})
			r.literals++
		}
	}
	return r
}

// match reports whether p matches; rest is what /** matched, from its
// leading slash: "" for /api, "/" for /api/ (whose trailing slash Couper
// keeps), "/a/b/" for /api/a/b/.
func (r *route) match(p string) (params []pathParam, rest string, ok bool) {
	trimmed := strings.TrimPrefix(p, "/")
	if len(r.segments) == 0 && !r.wildcard {
		return nil, "", trimmed == ""
	}
	i := 0 // start of the next unread segment; len+1 once the path is used up
	for _, seg := range r.segments {
		if i > len(trimmed) {
			return nil, "", false
		}
		part, next := trimmed[i:], len(trimmed)+1
		if j := strings.IndexByte(part, '/'); j >= 0 {
			part, next = part[:j], i+j+1
		}
		switch {
		case seg.param != "":
			if part == "" {
				return nil, "", false
			}
			params = append(params, pathParam{name: seg.param, value: part})
		case seg.literal != part:
			return nil, "", false
		}
		i = next
	}
	if r.wildcard {
		if i <= len(trimmed) {
			rest = "/" + trimmed[i:]
		}
		return params, rest, true
	}
	// A trailing slash or more segments make it a different path.
	return params, "", i == len(trimmed)+1
}

// better reports whether r is a more specific match than o: fixed paths beat
// wildcards, then longer paths, then more literals, then file order.
func (r *route) better(o *route) bool {
	if r.wildcard != o.wildcard {
		return !r.wildcard
	}
	if len(r.segments) != len(o.segments) {
		return len(r.segments) > len(o.segments)
	}
	if r.literals != o.literals {
		return r.literals > o.literals
	}
	return r.order < o.order
}

// allowHeader lists the methods for a 405's Allow header, with the HEAD
// that GET implies.
func (r *route) allowHeader() string {
	methods := r.methods
	if slices.Contains(methods, "GET") && !slices.Contains(methods, "HEAD") {
		methods = append(slices.Clip(methods), "HEAD")
	}
	return strings.Join(methods, ", ")
}

func (r *route) allows(method string) bool {
	if len(r.methods) == 0 {
		return true
	}
	for _, m := range r.methods {
		if m == method || (m == "GET" && method == "HEAD") {
			return true
		}
	}
	return false
}

// router picks the most specific matching endpoint.
type router struct{ routes []route }

// lookup returns the best route for the path; allowed is false when a route
// matched the path but not the method (405 rather than 404).
func (rt *router) lookup(p, method string) (best *route, params []pathParam, rest string, found bool) {
	var bestAny *route
	for i := range rt.routes {
		r := &rt.routes[i]
		ps, rs, ok := r.match(p)
		if !ok {
			continue
		}
		if !r.allows(method) {
			if bestAny == nil || r.better(bestAny) {
				bestAny = r
			}
			continue
		}
		if best == nil || r.better(best) {
			best, params, rest = r, ps, rs
		}
	}
	if best != nil {
		return best, params, rest, true
	}
	return bestAny, nil, "", false
}
