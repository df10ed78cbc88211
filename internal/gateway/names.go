package gateway

import (
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/backline/backline/internal/config"
)

// anonymousName names an inline backend after its endpoint's path:
// /api/v1/users/{id}/** gives anonymous_api_v1_users_id. Couper names it
// after the line and column it is written on, so inserting a line above
// renamed its metric series on every reload; the path is what an operator
// looks for in /metrics and stays put. Two endpoints with the same path
// (different methods) get _2, _3, ... in the order they are written.
func (g *Gateway) anonymousName(endpointPath string) string {
	base := "anonymous_" + pathSlug(endpointPath)
	name := base
	for n := 2; g.runtimeNamed(name); n++ {
		name = fmt.Sprintf("%s_%d", base, n)
	}
	return name
}

// maxSlug keeps a name well inside config.MaxNameLength with room for the
// prefix and a uniqueness suffix.
const maxSlug = config.MaxNameLength - 32

// pathSlug is the endpoint path as a name: segments joined by "_", braces
// and the /** wildcard dropped, other characters outside [A-Za-z0-9_]
// replaced by "_". A slug cut for length ends in a hash of the whole path.
func pathSlug(p string) string {
	p = strings.TrimSuffix(p, "/**")
	var b strings.Builder
	underscore := true // no leading "_"
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			b.WriteByte(c)
			underscore = false
		case c == '{' || c == '}':
		default:
			if !underscore {
				b.WriteByte('_')
				underscore = true
			}
		}
	}
	s := strings.TrimSuffix(b.String(), "_")
	if s == "" {
		return "root"
	}
	if len(s) > maxSlug {
		h := fnv.New32a()
		_, _ = h.Write([]byte(p))
		s = fmt.Sprintf("%s_%08x", s[:maxSlug-9], h.Sum32())
	}
	return s
}

func (g *Gateway) runtimeNamed(name string) bool {
	for _, rt := range g.runtimes {
		if rt.name == name {
			return true
		}
	}
	return false
}
