package gateway

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/redact"
)

// origin is the scheme and host[:port] a request goes to; any path in the
// configured origin is ignored, as in Couper.
type origin struct {
	scheme string
	host   string // as written, port optional
}

func parseOrigin(s string) (origin, error) {
	if s == "" {
		return origin{}, fmt.Errorf("the origin attribute must not be empty")
	}
	u, err := url.Parse(s)
	if err != nil {
		// An origin built at run time: its password (from the
		// environment) is quoted by neither the URL nor net/url's reason.
		return origin{}, errors.New("invalid url: " + redact.URLParseError(s, err))
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return origin{}, fmt.Errorf("the origin attribute has to contain an absolute URL with a valid hostname: %q", redact.URL(s))
	}
	return origin{scheme: u.Scheme, host: u.Host}, nil
}

// hostPort is the dial address, with the scheme's default port filled in.
func (o origin) hostPort() string {
	if u := (&url.URL{Host: o.host}); u.Port() != "" {
		return o.host
	}
	if o.scheme == "https" {
		return o.host + ":443"
	}
	return o.host + ":80"
}

// expandWildcard replaces a trailing /** with the part of the request path
// the endpoint's /** matched.
func expandWildcard(p string, rest string, matched bool) string {
	base, ok := strings.CutSuffix(p, "/**")
	if !ok || !matched {
		return p
	}
	if rest == "" && base == "" {
		return "/"
	}
	return base + rest
}

// joinPrefix puts prefix in front of p with single slashes, keeping a
// trailing slash of p.
func joinPrefix(prefix, p string) string {
	if prefix == "" || prefix == "/" {
		return p
	}
	joined := path.Join("/", prefix, p)
	if strings.HasSuffix(p, "/") && !strings.HasSuffix(joined, "/") {
		joined += "/"
	}
	return joined
}

// checkPath applies the fragment, query and traversal rules at run time,
// for paths built from request values.
func checkPath(attr, p string) error {
	if msg := config.CheckBackendPath(p); msg != "" {
		return fmt.Errorf("%s attribute: %s", attr, msg)
	}
	return nil
}
