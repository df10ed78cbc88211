package config

import (
	"fmt"
	"reflect"
	"sort"
	"time"

	"go.yaml.in/yaml/v3"
)

// Definitions holds named HTTP backends (Couper's definitions block).
type Definitions struct {
	Backends map[string]*Backend `yaml:"backends"`
}

// SortedLabels returns the backend labels in a stable order.
func (d *Definitions) SortedLabels() []string {
	labels := make([]string, 0, len(d.Backends))
	for l := range d.Backends {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	return labels
}

// Gateway is the HTTP gateway listener and its endpoints.
type Gateway struct {
	Address   string     `yaml:"address"`
	Endpoints []Endpoint `yaml:"endpoints"`
	// MaxConnections caps the listener's open client connections, as
	// server.max_connections does for the API listener.
	MaxConnections int `yaml:"max_connections"`
	// AccessLog logs one line per request (default true).
	AccessLog *bool            `yaml:"access_log"`
	RequestID GatewayRequestID `yaml:"request_id"`
	// CustomLogFields go into every access log line; an endpoint's own
	// fields of the same name win (Couper: inherited by nested blocks).
	CustomLogFields Values `yaml:"custom_log_fields"`
	// AccessLogFile, when set, takes the access log lines instead of the
	// daemon's log; SIGUSR1 reopens it (cmd/backline/logfile.go).
	AccessLogFile string `yaml:"access_log_file"`
	// TLS, when set, terminates TLS on gateway.address (listener_tls.go).
	TLS *ListenerTLS `yaml:"tls"`
	// TrustedProxies are the peers whose X-Forwarded-Proto and
	// X-Forwarded-Host are passed on (gateway_trusted.go); from anyone
	// else they are replaced.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// HTTP1Server picks what serves a plain (non-TLS) listener:
	// HTTP1ServerBackline (the default: the gateway's own HTTP/1.1
	// server, cheaper per request) or HTTP1ServerNetHTTP (Go's net/http
	// server with the framing scan, as before; a way back if the own
	// server ever misbehaves with a client). Not reloadable.
	HTTP1Server string `yaml:"http1_server"`
}

// Values of gateway.http1_server.
const (
	HTTP1ServerBackline = "backline"
	HTTP1ServerNetHTTP  = "net/http"
)

// Endpoint is one route of the gateway. Exactly one of Proxy and Request is set.
type Endpoint struct {
	Path    string   `yaml:"path"`
	Methods []string `yaml:"methods"`
	// CustomLogFields go into the access log line's custom field.
	CustomLogFields Values `yaml:"custom_log_fields"`
	Modifiers
	Proxy   *ProxyBlock   `yaml:"proxy"`
	Request *RequestBlock `yaml:"request"`
}

// ProxyBlock forwards the client request to a backend.
type ProxyBlock struct {
	Backend BackendRef `yaml:"backend"`
	URL     string     `yaml:"url"`
	// Websockets allows Upgrade requests through (gateway_websockets.go).
	Websockets Websockets `yaml:"websockets"`
	Modifiers
}

// RequestBlock sends a new request, built from its own attributes only. At
// most one of Body, JSONBody and FormBody is set.
type RequestBlock struct {
	Backend     BackendRef `yaml:"backend"`
	URL         string     `yaml:"url"`
	Method      string     `yaml:"method"`
	Headers     Values     `yaml:"headers"`
	QueryParams Values     `yaml:"query_params"`
	Body        string     `yaml:"body"`
	JSONBody    JSONBody   `yaml:"json_body"`
	FormBody    Values     `yaml:"form_body"`
}

// Modifiers are the header, query and form attributes every block shares.
// Within a block they run remove -> set -> add.
type Modifiers struct {
	RemoveRequestHeaders  []string `yaml:"remove_request_headers"`
	SetRequestHeaders     Values   `yaml:"set_request_headers"`
	AddRequestHeaders     Values   `yaml:"add_request_headers"`
	RemoveResponseHeaders []string `yaml:"remove_response_headers"`
	SetResponseHeaders    Values   `yaml:"set_response_headers"`
	AddResponseHeaders    Values   `yaml:"add_response_headers"`
	RemoveQueryParams     []string `yaml:"remove_query_params"`
	SetQueryParams        Values   `yaml:"set_query_params"`
	AddQueryParams        Values   `yaml:"add_query_params"`
	RemoveFormParams      []string `yaml:"remove_form_params"`
	SetFormParams         Values   `yaml:"set_form_params"`
	AddFormParams         Values   `yaml:"add_form_params"`
}

// HasQuery reports whether any query modifier is configured.
func (m *Modifiers) HasQuery() bool {
	return len(m.RemoveQueryParams)+len(m.SetQueryParams)+len(m.AddQueryParams) > 0
}

// HasForm reports whether any form modifier is configured.
func (m *Modifiers) HasForm() bool {
	return len(m.RemoveFormParams)+len(m.SetFormParams)+len(m.AddFormParams) > 0
}

// Values is a modifier object: each key has one value or a list of values.
// A null value is dropped (Couper treats it as a no-op).
type Values map[string][]string

// DecodeNode implements NodeDecoder.
func (vs *Values) DecodeNode(d *Decoder, n *yaml.Node, path string) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "must be a mapping of names to values")
		return
	}
	out := Values{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		kpath := join(path, k.Value)
		d.Lines[kpath] = k.Line
		if _, dup := out[k.Value]; dup {
			d.errorf(k, kpath, "key given twice")
			continue
		}
		switch {
		case val.Kind == yaml.ScalarNode && val.Tag == "!!null":
			continue
		case val.Kind == yaml.SequenceNode:
			list := make([]string, 0, len(val.Content))
			for j, item := range val.Content {
				if s, ok := d.scalar(item, fmt.Sprintf("%s[%d]", kpath, j)); ok {
					list = append(list, s)
				}
			}
			out[k.Value] = list
		default:
			if s, ok := d.scalar(val, kpath); ok {
				out[k.Value] = []string{s}
			}
		}
	}
	*vs = out
}

// SortedKeys returns the keys in a stable order.
func (vs Values) SortedKeys() []string {
	keys := make([]string, 0, len(vs))
	for k := range vs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Backend is Couper's backend block. Written lists the keys present in the
// file (with their line), so a refinement overrides exactly what it names.
type Backend struct {
	BackendAttrs
	Written map[string]int
	// Path is the key path of the block, for messages at run time.
	Path string
}

// DecodeNode implements NodeDecoder: it records which keys were written.
func (b *Backend) DecodeNode(d *Decoder, n *yaml.Node, path string) {
	b.Path = path
	b.Written = map[string]int{}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "must be a mapping")
		return
	}
	d.decode(n, reflectValue(&b.BackendAttrs), path)
	for i := 0; i+1 < len(n.Content); i += 2 {
		key := n.Content[i].Value
		if key == "throttle" {
			key = "beta_rate_limit"
		}
		b.Written[key] = n.Content[i].Line
	}
}

// Has reports whether key was written in this block.
func (b *Backend) Has(key string) bool {
	_, ok := b.Written[key]
	return ok
}

// BackendAttrs are the attributes and nested blocks of seed 003.
type BackendAttrs struct {
	// Label names the referenced backend in a refinement (proxy.backend.label).
	Label string `yaml:"label"`
	Modifiers
	BasicAuth                    string        `yaml:"basic_auth"`
	ConnectTimeout               time.Duration `yaml:"connect_timeout"`
	TTFBTimeout                  time.Duration `yaml:"ttfb_timeout"`
	Timeout                      time.Duration `yaml:"timeout"`
	CustomLogFields              Values        `yaml:"custom_log_fields"`
	DisableCertificateValidation bool          `yaml:"disable_certificate_validation"`
	DisableConnectionReuse       bool          `yaml:"disable_connection_reuse"`
	Hostname                     string        `yaml:"hostname"`
	HTTP2                        bool          `yaml:"http2"`
	HTTP2PriorKnowledge          bool          `yaml:"http2_prior_knowledge"`
	MaxConnections               int           `yaml:"max_connections"`
	MaxQueue                     int           `yaml:"max_queue"`     // gateway_queue.go
	QueueTimeout                 time.Duration `yaml:"queue_timeout"` // gateway_queue.go
	Origin                       string        `yaml:"origin"`
	BackendPath                  string        `yaml:"path"`
	PathPrefix                   string        `yaml:"path_prefix"`
	Proxy                        string        `yaml:"proxy"`
	// ProxyProtocol is proxy_protocol (gateway_proxyproto.go): v1 or v2
	// sends a PROXY protocol header on each new origin connection; "" off.
	ProxyProtocol     string `yaml:"proxy_protocol"`
	SetResponseStatus int    `yaml:"set_response_status"`
	UseWhenUnhealthy  bool   `yaml:"use_when_unhealthy"`

	Health *BackendHealth `yaml:"beta_health"`
	// Several origins (gateway_origins.go): balanced, retried, each a
	// health target; passive_health ejects failing ones.
	Origins       OriginList `yaml:"origins"`
	LoadBalancing string     `yaml:"load_balancing"`
	// Hash policies and slow start (gateway_balance.go).
	HashKey       string         `yaml:"hash_key"`
	HashCookieSet *bool          `yaml:"hash_cookie_set"`
	SlowStart     time.Duration  `yaml:"slow_start"`
	Retries       *int           `yaml:"retries"`
	RetryOn       []string       `yaml:"retry_on"`
	PassiveHealth *PassiveHealth `yaml:"passive_health"`
	RateLimits    RateLimits     `yaml:"beta_rate_limit,alias=throttle"`
	TLS           *BackendTLS    `yaml:"tls"`

	OAuth2        *OAuth2         `yaml:"oauth2"`
	TokenRequests TokenRequests   `yaml:"beta_token_request"`
	OpenAPI       *BackendOpenAPI `yaml:"openapi"`

	// PanicThreshold is panic_threshold (gateway_panic.go): below this
	// share of eligible origins, in percent, balance over every origin an
	// operator has not taken out. nil or 0: off.
	PanicThreshold *int `yaml:"panic_threshold"`
}

// BackendHealth is beta_health: an HTTP check run by the health engine.
type BackendHealth struct {
	Path     string        `yaml:"path"`
	Interval time.Duration `yaml:"interval"`
	// FastInterval: as the mail checks' fast_interval, bounded by Interval.
	FastInterval time.Duration `yaml:"fast_interval"`
	// DownInterval: as the mail checks' down_interval.
	DownInterval      time.Duration     `yaml:"down_interval"`
	Timeout           time.Duration     `yaml:"timeout"`
	FailureThreshold  *int              `yaml:"failure_threshold"`
	RecoveryThreshold *int              `yaml:"recovery_threshold"`
	ExpectedStatus    []int             `yaml:"expected_status"`
	ExpectedText      string            `yaml:"expected_text"`
	Headers           map[string]string `yaml:"headers"`
	// Method, Body and DrainOnStatus as a mail-side http target's
	// request_method, request_body and drain_on_status
	// (target_http_request.go).
	Method        string `yaml:"method"`
	Body          string `yaml:"body"`
	DrainOnStatus []int  `yaml:"drain_on_status"`
	// Port and Scheme replace the origin's for the probe only (Caddy's
	// health_port, Traefik's healthCheck port and scheme): many origins
	// answer health on an admin port, or on plain HTTP next to HTTPS
	// traffic. 0 and "" keep the origin's.
	Port   int    `yaml:"port"`
	Scheme string `yaml:"scheme"`
	// InitialState is the gate before the first verdict, as the mail
	// checks' initial_state: healthy (Couper's fail-open, the default) or
	// unhealthy (HAProxy's init-state down: no traffic until checks pass).
	InitialState string `yaml:"initial_state"`
	// Agent is each origin's agent check (target_agent.go): its host is
	// the origin's unless set; nil: none.
	Agent *TargetAgent `yaml:"agent"`
}

// RateLimit is one beta_rate_limit (throttle) block.
type RateLimit struct {
	Period       time.Duration `yaml:"period"`
	PerPeriod    int           `yaml:"per_period"`
	PeriodWindow string        `yaml:"period_window"` // sliding (default) | fixed
	Mode         string        `yaml:"mode"`          // wait (default) | block
	// The wait queue's bounds (gateway_ratelimit_queue.go): one queue per
	// backend, so at most one rule may carry each key. nil: not written.
	MaxQueue     *int           `yaml:"max_queue"`
	QueueTimeout *time.Duration `yaml:"queue_timeout"`
}

// Rate-limit windows and modes.
const (
	WindowSliding = "sliding"
	WindowFixed   = "fixed"
	ModeWait      = "wait"
	ModeBlock     = "block"
)

// RateLimits accepts one block (a mapping) or several (a list).
type RateLimits []RateLimit

// DecodeNode implements NodeDecoder.
func (rl *RateLimits) DecodeNode(d *Decoder, n *yaml.Node, path string) {
	switch n.Kind {
	case yaml.MappingNode:
		var one RateLimit
		d.decode(n, reflectValue(&one), path)
		*rl = RateLimits{one}
	case yaml.SequenceNode:
		var list []RateLimit
		d.decode(n, reflectValue(&list), path)
		*rl = list
	default:
		if n.Tag != "!!null" {
			d.errorf(n, path, "must be a mapping or a list of mappings")
		}
	}
}

// Unsupported marks a Couper block backline does not implement; writing it is
// a load error rather than a silently ignored security setting.
type Unsupported struct{ Set bool }

// DecodeNode implements NodeDecoder.
func (u *Unsupported) DecodeNode(d *Decoder, n *yaml.Node, path string) {
	u.Set = true
}

// Gateway defaults (Couper's).
const (
	DefaultBackendConnectTimeout = 10 * time.Second
	DefaultBackendTTFBTimeout    = 60 * time.Second
	DefaultBackendTimeout        = 300 * time.Second
	DefaultHealthInterval        = time.Second
	DefaultHealthTimeout         = time.Second
	DefaultHealthFailures        = 2
	DefaultHealthRecoveries      = 1
)

// DefaultHealthStatuses is beta_health's expected_status default.
var DefaultHealthStatuses = []int{200, 204, 301}

// applyDefaults fills Couper's timeout defaults for keys left out; an
// explicit 0 disables that timer.
func (b *Backend) applyDefaults() {
	if !b.Has("connect_timeout") {
		b.ConnectTimeout = DefaultBackendConnectTimeout
	}
	if !b.Has("ttfb_timeout") {
		b.TTFBTimeout = DefaultBackendTTFBTimeout
	}
	if !b.Has("timeout") {
		b.Timeout = DefaultBackendTimeout
	}
	b.applyQueueDefaults()
}

// reflectValue is the settable value behind pointer p.
func reflectValue(p any) reflect.Value { return reflect.ValueOf(p).Elem() }
