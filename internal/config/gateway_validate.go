package config

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/backline/backline/internal/redact"
)

var (
	backendLabel = regexp.MustCompile(`^[a-zA-Z0-9_]+$`)
	paramSegment = regexp.MustCompile(`^\{[A-Za-z_][A-Za-z0-9_]*\}$`)
)

// gatewayValidator checks definitions and gateway.
type gatewayValidator struct {
	c    *Config
	errs *Errors
}

func (v *gatewayValidator) add(path, format string, args ...any) {
	v.errs.Add(path, v.c.Lines.Line(path), format, args...)
}

// validateGateway checks definitions and gateway and fills backend defaults.
func (c *Config) validateGateway(errs *Errors) {
	v := &gatewayValidator{c: c, errs: errs}
	for _, label := range c.Definitions.SortedLabels() {
		b := c.Definitions.Backends[label]
		path := "definitions.backends." + label
		if b == nil {
			v.add(path, "must be a mapping")
			continue
		}
		switch {
		case !backendLabel.MatchString(label):
			v.add(path, "label contains invalid character(s), allowed are 'a-z', 'A-Z', '0-9' and '_'")
		case strings.HasPrefix(label, "anonymous_"):
			v.add(path, "backend label must not start with 'anonymous_'")
		case len(label) > MaxNameLength: // it is a /metrics label
			v.add(path, "label must be at most %d bytes, got %d", MaxNameLength, len(label))
		}
		if b.Has("label") {
			v.add(path+".label", "not allowed here: the key under definitions.backends is the label")
		}
		b.applyDefaults()
		v.validateBackend(path, b)
		v.validateHealth(path, b)
	}
	g := &c.Gateway
	if g.Address != "" {
		if msg := checkListenAddress(g.Address); msg != "" {
			v.add("gateway.address", "%s", msg)
		}
	} else if len(g.Endpoints) > 0 {
		v.add("gateway.address", "is required when gateway.endpoints are configured (the gateway has its own listener)")
	}
	for i := range g.Endpoints {
		v.validateEndpoint(fmt.Sprintf("gateway.endpoints[%d]", i), &g.Endpoints[i])
	}
	v.validateRequestID(g)
	v.validateTrustedProxies(g)
	switch g.HTTP1Server {
	case "", HTTP1ServerBackline, HTTP1ServerNetHTTP:
	default:
		v.add("gateway.http1_server", "must be %q or %q, got %q", HTTP1ServerBackline, HTTP1ServerNetHTTP, g.HTTP1Server)
	}
	v.checkDuplicateEndpoints()
	v.checkTokenCycles()
}

func (v *gatewayValidator) validateBackend(path string, b *Backend) {
	if b.Origin != "" && !strings.Contains(b.Origin, "${") {
		if msg := checkOrigin(b.Origin); msg != "" {
			v.add(path+".origin", "%s", msg)
		}
	}
	if b.Proxy != "" {
		if u, err := url.Parse(b.Proxy); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			v.add(path+".proxy", "must be an http:// or https:// URL, got %q", redact.URL(b.Proxy))
		}
	}
	v.validateProxyProtocol(path, b)
	if b.MaxConnections < 0 {
		v.add(path+".max_connections", "must not be negative, got %d", b.MaxConnections)
	}
	v.validateQueue(path, b)
	if b.Has("set_response_status") && (b.SetResponseStatus < 100 || b.SetResponseStatus > 599) {
		v.add(path+".set_response_status", "must be an HTTP status 100..599, got %d", b.SetResponseStatus)
	}
	for _, key := range []struct{ name, value string }{{"path", b.BackendPath}, {"path_prefix", b.PathPrefix}} {
		if msg := CheckBackendPath(key.value); msg != "" && !strings.Contains(key.value, "${") {
			v.add(path+"."+key.name, "%s", msg)
		}
	}
	v.validateOrigins(path, b)
	if b.OpenAPI != nil {
		v.validateOpenAPI(path+".openapi", b.OpenAPI)
	}
	if b.OAuth2 != nil {
		v.validateOAuth2(path+".oauth2", b.OAuth2)
	}
	v.validateTokenRequests(b.TokenRequests)
	v.validateModifiers(path, &b.Modifiers)
	v.validateRateLimits(v.c.rateLimitPath(path), b.RateLimits)
	if b.TLS != nil {
		v.validateTLS(path+".tls", b)
	}
}

// checkOrigin returns "" when origin is an absolute http(s) URL with a host.
// The URL an error quotes (net/url's too) has its user info password and
// query credentials withheld.
func checkOrigin(origin string) string {
	u, err := url.Parse(origin)
	if err != nil {
		return "invalid url: " + redact.URLParseError(origin, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || strings.Contains(u.Host, "/") {
		return fmt.Sprintf("the origin attribute has to contain an absolute URL with a valid hostname: %q", redact.URL(origin))
	}
	return ""
}

// CheckBackendPath applies Couper's path and path_prefix rules: no fragment,
// no query and no ".." segment, raw or percent-encoded.
func CheckBackendPath(p string) string {
	switch {
	case p == "":
		return ""
	case strings.Contains(p, "#"):
		return fmt.Sprintf("invalid fragment found in %q", redact.RequestURI(p))
	case strings.Contains(p, "?"):
		return fmt.Sprintf("invalid query string found in %q", redact.RequestURI(p))
	}
	decoded := strings.ReplaceAll(strings.ReplaceAll(strings.ToLower(p), "%2e", "."), "%2f", "/")
	for _, seg := range strings.Split(decoded, "/") {
		if seg == ".." {
			return fmt.Sprintf("path traversal not allowed: %q", p)
		}
	}
	return ""
}

func (v *gatewayValidator) validateModifiers(path string, m *Modifiers) {
	for key, vals := range map[string]Values{
		"set_request_headers": m.SetRequestHeaders, "add_request_headers": m.AddRequestHeaders,
		"set_response_headers": m.SetResponseHeaders, "add_response_headers": m.AddResponseHeaders,
	} {
		for name := range vals {
			if !validToken(name) {
				v.add(path+"."+key+"."+name, "%q is not a valid HTTP header name", name)
			}
		}
	}
	for key, names := range map[string][]string{
		"remove_request_headers": m.RemoveRequestHeaders, "remove_response_headers": m.RemoveResponseHeaders,
	} {
		for i, name := range names {
			if !validToken(name) {
				v.add(fmt.Sprintf("%s.%s[%d]", path, key, i), "%q is not a valid HTTP header name", name)
			}
		}
	}
}

// validToken reports whether s is an RFC 9110 token (header name, method).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

func (v *gatewayValidator) validateRateLimits(path string, limits RateLimits) {
	seen := map[time.Duration]bool{}
	firstQueueKey := map[string]string{}
	for i := range limits {
		l := &limits[i]
		p := v.c.rateLimitRulePath(path, len(limits), i)
		v.validateRateLimitQueue(p, l, firstQueueKey)
		if l.Period <= 0 {
			v.add(p+".period", "'period' must be greater than 0 (zero)")
		} else if seen[l.Period] {
			v.add(p+".period", "duplicate period (%q) found", formatDuration(l.Period))
		}
		seen[l.Period] = true
		if l.PerPeriod <= 0 {
			v.add(p+".per_period", "'per_period' must be greater than 0 (zero)")
		}
		l.PeriodWindow = normalizeWord(l.PeriodWindow)
		if l.PeriodWindow == "" {
			l.PeriodWindow = WindowSliding
		}
		if l.PeriodWindow != WindowSliding && l.PeriodWindow != WindowFixed {
			v.add(p+".period_window", "unsupported 'period_window' (%q) given; use sliding or fixed", l.PeriodWindow)
		}
		l.Mode = normalizeWord(l.Mode)
		if l.Mode == "" {
			l.Mode = ModeWait
		}
		if l.Mode != ModeWait && l.Mode != ModeBlock {
			v.add(p+".mode", "unsupported 'mode' (%q) given; use wait or block", l.Mode)
		}
	}
}

func (v *gatewayValidator) validateHealth(path string, b *Backend) {
	h := b.Health
	if h == nil {
		return
	}
	path += ".beta_health"
	if !b.HasSeveralOrigins() && (b.Origin == "" || strings.Contains(b.Origin, "${")) {
		v.add(path, "needs a fixed origin on the backend to probe")
	}
	written := func(key string) bool { return v.c.Lines[path+"."+key] > 0 }
	if !written("interval") {
		h.Interval = DefaultHealthInterval
	} else if h.Interval < MinGatewayHealthInterval {
		v.add(path+".interval", "must be at least %s, got %s", MinGatewayHealthInterval, h.Interval)
	}
	if !written("timeout") {
		h.Timeout = min(DefaultHealthTimeout, h.Interval)
		if written("interval") {
			h.Timeout = h.Interval
		}
	} else if h.Timeout <= 0 {
		v.add(path+".timeout", "must be greater than 0")
	}
	h.Timeout = min(h.Timeout, h.Interval) // Couper clamps the probe timeout to the interval
	if written("fast_interval") {
		checkFastInterval(v.add, path+".fast_interval", h.FastInterval, boundInterval{"interval", h.Interval})
	}
	if written("down_interval") {
		checkDownInterval(v.add, path+".down_interval", h.DownInterval)
	}
	if h.FailureThreshold == nil {
		h.FailureThreshold = ptr(DefaultHealthFailures)
	} else if *h.FailureThreshold < 0 || *h.FailureThreshold > 100 {
		v.add(path+".failure_threshold", "must be 0..100, got %d", *h.FailureThreshold)
	} else if *h.FailureThreshold == 0 {
		*h.FailureThreshold = 1 // Couper: 0 behaves like 1
	}
	if h.RecoveryThreshold == nil {
		h.RecoveryThreshold = ptr(DefaultHealthRecoveries)
	} else if *h.RecoveryThreshold < 1 || *h.RecoveryThreshold > 100 {
		v.add(path+".recovery_threshold", "must be 1..100, got %d", *h.RecoveryThreshold)
	}
	if len(h.ExpectedStatus) == 0 {
		h.ExpectedStatus = DefaultHealthStatuses
	}
	for i, s := range h.ExpectedStatus {
		if s < 100 || s > 599 {
			v.add(fmt.Sprintf("%s.expected_status[%d]", path, i), "must be an HTTP status 100..599, got %d", s)
		}
	}
	if h.Path != "" && !strings.HasPrefix(h.Path, "/") {
		v.add(path+".path", "must start with '/', got %q", h.Path)
	}
	for name := range h.Headers {
		if !validToken(name) {
			v.add(path+".headers."+name, "%q is not a valid HTTP header name", name)
		}
	}
	v.validateHealthTarget(path, h, written)
	v.validateHealthRequest(path, h)
	checkAgent(v.add, func(p string) bool { return v.c.Lines[p] > 0 }, path+".agent", h.Agent, h.Timeout)
}

// validateHealthTarget checks the keys that move the probe away from the
// traffic (port, scheme) and its initial state. A written empty or zero
// value is an error rather than "the origin's": it is most likely an
// unset template or a typo, and a silent fallback would check the wrong
// port.
func (v *gatewayValidator) validateHealthTarget(path string, h *BackendHealth, written func(string) bool) {
	if written("port") && (h.Port < 1 || h.Port > 65535) {
		v.add(path+".port", "must be 1..65535, got %d", h.Port)
	}
	if written("scheme") {
		h.Scheme = normalizeWord(h.Scheme)
		if h.Scheme != "http" && h.Scheme != "https" {
			v.add(path+".scheme", "must be http or https, got %q", h.Scheme)
		}
	}
	if !written("initial_state") {
		h.InitialState = InitialHealthy
		return
	}
	h.InitialState = normalizeWord(h.InitialState)
	if h.InitialState != InitialHealthy && h.InitialState != InitialUnhealthy {
		v.add(path+".initial_state", "must be healthy or unhealthy, got %q", h.InitialState)
	}
}

func ptr[T any](x T) *T { return &x }

func (v *gatewayValidator) validateEndpoint(path string, e *Endpoint) {
	if msg := CheckEndpointPath(e.Path); msg != "" {
		v.add(path+".path", "%s", msg)
	}
	for i, m := range e.Methods {
		m = strings.ToUpper(strings.TrimSpace(m))
		e.Methods[i] = m
		if !validToken(m) {
			v.add(fmt.Sprintf("%s.methods[%d]", path, i), "%q is not a valid HTTP method", m)
		}
	}
	v.validateModifiers(path, &e.Modifiers)
	switch {
	case e.Proxy == nil && e.Request == nil:
		v.add(path, "needs a proxy or a request block")
	case e.Proxy != nil && e.Request != nil:
		v.add(path, "set either proxy or request, not both")
	case e.Proxy != nil:
		v.validateModifiers(path+".proxy", &e.Proxy.Modifiers)
		v.validateWebsockets(path+".proxy.websockets", &e.Proxy.Websockets)
		v.validateRef(path+".proxy.backend", &e.Proxy.Backend, e.Proxy.URL)
	default:
		r := e.Request
		// A request block forwards nothing from the client, so request-side
		// endpoint modifiers would be accepted and do nothing.
		for _, key := range []string{"remove_request_headers", "set_request_headers", "add_request_headers",
			"remove_query_params", "set_query_params", "add_query_params",
			"remove_form_params", "set_form_params", "add_form_params"} {
			if v.c.Lines[path+"."+key] > 0 {
				v.add(path+"."+key, "has no effect on an endpoint with a request block (it sends a new request built from its own attributes); set headers or query_params in the request block")
			}
		}
		var bodies []string
		for _, key := range requestBodyKeys {
			if v.c.Lines[path+".request."+key] > 0 {
				bodies = append(bodies, key)
			}
		}
		// The error goes to the key written second, where the conflict shows.
		sort.Slice(bodies, func(i, j int) bool {
			return v.c.Lines[path+".request."+bodies[i]] < v.c.Lines[path+".request."+bodies[j]]
		})
		if len(bodies) > 1 {
			v.add(path+".request."+bodies[1], "set only one of body, json_body and form_body (%s is set too)", bodies[0])
		}
		r.Method = strings.ToUpper(strings.TrimSpace(r.Method))
		switch {
		case r.Method != "":
		case r.Body != "" || r.JSONBody.Set || r.FormBody != nil:
			r.Method = http.MethodPost // as Couper does for a request with a body
		default:
			r.Method = http.MethodGet
		}
		if !validToken(r.Method) {
			v.add(path+".request.method", "%q is not a valid HTTP method", r.Method)
		}
		v.validateRef(path+".request.backend", &r.Backend, r.URL)
	}
}

// CheckEndpointPath accepts absolute paths whose segments are literal or
// {param}, optionally ending in the /** wildcard.
func CheckEndpointPath(p string) string {
	if hasControl(p) {
		return "must not contain control characters"
	}
	if !strings.HasPrefix(p, "/") {
		return fmt.Sprintf("must start with '/', got %q", p)
	}
	segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
	params := map[string]bool{}
	for i, s := range segs {
		switch {
		case s == "**":
			if i != len(segs)-1 {
				return fmt.Sprintf("the /** wildcard must be the last segment, got %q", p)
			}
		case strings.ContainsAny(s, "{}"):
			if !paramSegment.MatchString(s) {
				return fmt.Sprintf("segment %q must be a literal or a whole {name} parameter", s)
			}
			if params[s] {
				return fmt.Sprintf("parameter %s is used twice", s)
			}
			params[s] = true
		case strings.Contains(s, "*"):
			return fmt.Sprintf("only a final /** wildcard is supported, got %q", p)
		case s == ".." || s == ".":
			return fmt.Sprintf("dot segments are not allowed, got %q", p)
		}
	}
	return ""
}
