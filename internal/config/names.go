package config

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNameLength bounds operator-chosen names (targets, filters, passdbs):
// they are /metrics labels and log fields, repeated on every scrape.
const MaxNameLength = 256

// checkName returns "" when s is fit to be a /metrics label and a log field:
// valid UTF-8 (the Prometheus client panics on anything else), no control
// characters (a raw newline splits a log line or an exposition line) and
// not longer than MaxNameLength.
func checkName(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "must be valid UTF-8 (it becomes a /metrics label)"
	case hasControl(s):
		return "must not contain control characters (it becomes a /metrics label and a log field)"
	case len(s) > MaxNameLength:
		return fmt.Sprintf("must be at most %d bytes, got %d", MaxNameLength, len(s))
	}
	return ""
}

// hasControl reports C0 controls, DEL and C1 controls (U+0080..U+009F).
func hasControl(s string) bool { return strings.IndexFunc(s, unicode.IsControl) >= 0 }

// checkDuplicateEndpoints refuses a second endpoint with the same route
// shape (parameter names do not matter) and a method in common: the router
// would silently send those requests to the first. An endpoint without
// methods takes all of them; GET takes HEAD too, as the router does. Each
// shape keeps which endpoint first claimed each method, so the check stays
// linear however many endpoints share a path.
func (v *gatewayValidator) checkDuplicateEndpoints() {
	type claims struct {
		first    int // the first endpoint of this shape
		all      int // the first one without methods, -1 if none
		byMethod map[string]int
	}
	shapes := map[string]*claims{}
	endpoints := v.c.Gateway.Endpoints
	for i := range endpoints {
		e := &endpoints[i]
		if CheckEndpointPath(e.Path) != "" {
			continue // reported already
		}
		shape := routeShape(e.Path)
		c := shapes[shape]
		if c == nil {
			c = &claims{first: i, all: -1, byMethod: map[string]int{}}
			shapes[shape] = c
		}
		taken := -1
		switch {
		case c.all >= 0:
			taken = c.all
		case len(e.Methods) == 0 && i != c.first:
			taken = c.first
		default:
			for _, m := range withHead(e.Methods) {
				if j, ok := c.byMethod[m]; ok {
					taken = j
					break
				}
			}
		}
		if taken < 0 {
			if len(e.Methods) == 0 {
				c.all = i
			}
			for _, m := range withHead(e.Methods) {
				c.byMethod[m] = i
			}
			continue
		}
		first := &endpoints[taken]
		path := fmt.Sprintf("gateway.endpoints[%d].path", i)
		firstPath := fmt.Sprintf("gateway.endpoints[%d].path", taken)
		v.add(path, "%q (%s) is already served by %s (line %d): %q (%s); requests would silently go to the first",
			e.Path, methodList(e.Methods), firstPath, v.c.Lines.Line(firstPath), first.Path, methodList(first.Methods))
	}
}

// routeShape is the path with every {param} written as {}.
func routeShape(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") {
			segs[i] = "{}"
		}
	}
	return strings.Join(segs, "/")
}

func withHead(methods []string) []string {
	if slices.Contains(methods, "GET") && !slices.Contains(methods, "HEAD") {
		return append(slices.Clip(methods), "HEAD")
	}
	return methods
}

func methodList(methods []string) string {
	if len(methods) == 0 {
		return "all methods"
	}
	return strings.Join(methods, ", ")
}
