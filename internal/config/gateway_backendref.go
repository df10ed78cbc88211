package config

import "go.yaml.in/yaml/v3"

// BackendRef is proxy.backend / request.backend: a label ("api"), a
// refinement (a mapping with label) or an inline backend (a mapping without).
type BackendRef struct {
	Label  string   // referenced definitions backend; "" for inline
	Inline *Backend // the refining or inline block; nil for a plain reference
	Path   string
	Line   int
}

// DecodeNode implements NodeDecoder.
func (r *BackendRef) DecodeNode(d *Decoder, n *yaml.Node, path string) {
	r.Path, r.Line = path, n.Line
	switch n.Kind {
	case yaml.ScalarNode:
		if s, ok := d.scalar(n, path); ok {
			r.Label = s
		}
	case yaml.MappingNode:
		r.Inline = &Backend{}
		r.Inline.DecodeNode(d, n, path)
		r.Label = r.Inline.Label
	default:
		d.errorf(n, path, "must be a backend label or a backend mapping")
	}
}

// refinementForbidden lists what a refinement may not set (spec §3).
var refinementForbidden = []string{
	"disable_certificate_validation", "disable_connection_reuse", "http2", "http2_prior_knowledge", "max_connections",
	"max_queue", "queue_timeout", // the queue belongs to the label, like its slots
	"beta_health", "beta_rate_limit", "tls", "oauth2", "beta_token_request", "openapi",
	"origins", "load_balancing", "retries", "retry_on", "passive_health",
	"hash_key", "hash_cookie_set", "slow_start",
	"panic_threshold",
	"proxy_protocol", // the pools carry it, as http2 and tls
}

// validateRef resolves a reference against definitions and checks the
// refinement rules of spec §3.
func (v *gatewayValidator) validateRef(path string, r *BackendRef, rawURL string) {
	if r.Label == "" && r.Inline == nil {
		if rawURL == "" || checkOrigin(rawURL) != "" {
			v.add(path, "is required (a definitions label or an inline backend), unless url is an absolute URL")
		}
		return
	}
	if r.Inline != nil && r.Label == "" {
		b := r.Inline
		b.Path = path
		b.applyDefaults()
		if b.Has("beta_rate_limit") {
			v.add(path+".beta_rate_limit", "anonymous backend cannot define 'throttle' block(s); define it under definitions.backends")
		}
		if b.Has("beta_health") {
			v.add(path+".beta_health", "an inline backend cannot define beta_health; define it under definitions.backends")
		}
		v.validateBackend(path, b)
		return
	}
	ref, ok := v.c.Definitions.Backends[r.Label]
	if !ok || ref == nil {
		linePath := path
		if r.Inline != nil {
			linePath = path + ".label"
		}
		v.add(linePath, "referenced backend %q is not defined", r.Label)
		return
	}
	if r.Inline == nil {
		return
	}
	b := r.Inline
	for _, key := range refinementForbidden {
		if line, ok := b.Written[key]; ok {
			v.errs.Add(path+"."+key, line, "backend reference: refinement for %q is not permitted (%s)", r.Label, key)
		}
	}
	if b.Has("origin") && b.Origin != ref.Origin {
		v.add(path+".origin", "backend reference: origin must be equal (%q is defined as %q)", r.Label, ref.Origin)
	}
	if ref.ProxyProtocol != "" && b.Has("proxy") {
		v.errs.Add(path+".proxy", b.Written["proxy"], "backend reference: %q sends proxy_protocol, which cannot go through a forward proxy; remove proxy from the refinement", r.Label)
	}
	v.validateBackend(path, b)
}

// Refine returns the effective attributes of a refinement: every attribute
// written in r replaces the referenced one as a whole (no deep merge).
func (b *Backend) Refine(r *Backend) *Backend {
	if r == nil {
		return b
	}
	out := &Backend{BackendAttrs: b.BackendAttrs, Written: map[string]int{}, Path: r.Path}
	for k, l := range b.Written {
		out.Written[k] = l
	}
	a, ra := &out.BackendAttrs, &r.BackendAttrs
	for key := range r.Written {
		out.Written[key] = r.Written[key]
		switch key {
		case "remove_request_headers":
			a.RemoveRequestHeaders = ra.RemoveRequestHeaders
		case "set_request_headers":
			a.SetRequestHeaders = ra.SetRequestHeaders
		case "add_request_headers":
			a.AddRequestHeaders = ra.AddRequestHeaders
		case "remove_response_headers":
			a.RemoveResponseHeaders = ra.RemoveResponseHeaders
		case "set_response_headers":
			a.SetResponseHeaders = ra.SetResponseHeaders
		case "add_response_headers":
			a.AddResponseHeaders = ra.AddResponseHeaders
		case "remove_query_params":
			a.RemoveQueryParams = ra.RemoveQueryParams
		case "set_query_params":
			a.SetQueryParams = ra.SetQueryParams
		case "add_query_params":
			a.AddQueryParams = ra.AddQueryParams
		case "remove_form_params":
			a.RemoveFormParams = ra.RemoveFormParams
		case "set_form_params":
			a.SetFormParams = ra.SetFormParams
		case "add_form_params":
			a.AddFormParams = ra.AddFormParams
		case "basic_auth":
			a.BasicAuth = ra.BasicAuth
		case "connect_timeout":
			a.ConnectTimeout = ra.ConnectTimeout
		case "ttfb_timeout":
			a.TTFBTimeout = ra.TTFBTimeout
		case "timeout":
			a.Timeout = ra.Timeout
		case "custom_log_fields":
			a.CustomLogFields = ra.CustomLogFields
		case "hostname":
			a.Hostname = ra.Hostname
		case "path":
			a.BackendPath = ra.BackendPath
		case "path_prefix":
			a.PathPrefix = ra.PathPrefix
		case "proxy":
			a.Proxy = ra.Proxy
		case "set_response_status":
			a.SetResponseStatus = ra.SetResponseStatus
		case "use_when_unhealthy":
			a.UseWhenUnhealthy = ra.UseWhenUnhealthy
		}
	}
	return out
}
