package config

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Definitions holds named HTTP backends (Couper's definitions block).
type Definitions struct {
	Backends map[string]*Backend `yaml:"backends"`
}

// Gateway is the HTTP gateway listener and its endpoints.
type Gateway struct {
	Address   string     `yaml:"address"`
	Endpoints []Endpoint `yaml:"endpoints"`
}

// Endpoint is one route of the gateway. Exactly one of Proxy and Request is set.
type Endpoint struct {
	Path    string   `yaml:"path"`
	Methods []string `yaml:"methods"`
	Modifiers
	Proxy   *ProxyBlock   `yaml:"proxy"`
	Request *RequestBlock `yaml:"request"`
}

// ProxyBlock forwards the client request to a backend.
type ProxyBlock struct {
	Backend BackendRef `yaml:"backend"`
	URL     string     `yaml:"url"`
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

// requestBodyKeys are the mutually exclusive body attributes of a request block.
var requestBodyKeys = []string{"body", "json_body", "form_body"}

// JSONBody is request.json_body: any YAML value, sent as JSON. Value holds
// nil, bool, int, uint64, float64, string, []any or map[string]any; strings
// keep their ${request...} placeholders for the gateway. An empty key is
// unset, like every other empty key.
type JSONBody struct {
	Set   bool
	Value any
}

// DecodeNode implements NodeDecoder.
func (j *JSONBody) DecodeNode(d *Decoder, n *yaml.Node, path string) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	j.Set, j.Value = true, d.jsonValue(n, path)
}

// jsonValue converts n, recording the line of every nested path so a bad
// placeholder deep in the body is still reported at its own line.
func (d *Decoder) jsonValue(n *yaml.Node, path string) any {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if d.Lines != nil {
		d.Lines[path] = n.Line
	}
	switch n.Kind {
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			kpath := join(path, k.Value)
			if _, dup := out[k.Value]; dup {
				d.errorf(k, kpath, "key given twice")
				continue
			}
			out[k.Value] = d.jsonValue(n.Content[i+1], kpath)
		}
		return out
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, c := range n.Content {
			out[i] = d.jsonValue(c, fmt.Sprintf("%s[%d]", path, i))
		}
		return out
	}
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool", "!!int", "!!float":
		var x any
		if err := n.Decode(&x); err != nil {
			d.errorf(n, path, "%v", err)
			return nil
		}
		if f, ok := x.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			d.errorf(n, path, "%s cannot be written in JSON", n.Value)
			return nil
		}
		return x
	}
	s, _ := d.scalar(n, path)
	return s
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
	Origin                       string        `yaml:"origin"`
	BackendPath                  string        `yaml:"path"`
	PathPrefix                   string        `yaml:"path_prefix"`
	Proxy                        string        `yaml:"proxy"`
	SetResponseStatus            int           `yaml:"set_response_status"`
	UseWhenUnhealthy             bool          `yaml:"use_when_unhealthy"`

	Health     *BackendHealth `yaml:"beta_health"`
	RateLimits RateLimits     `yaml:"beta_rate_limit,alias=throttle"`
	TLS        *BackendTLS    `yaml:"tls"`

	OAuth2       Unsupported `yaml:"oauth2"`
	TokenRequest Unsupported `yaml:"beta_token_request"`
	OpenAPI      Unsupported `yaml:"openapi"`
}

// BackendHealth is beta_health: an HTTP check run by the health engine.
type BackendHealth struct {
	Path              string            `yaml:"path"`
	Interval          time.Duration     `yaml:"interval"`
	Timeout           time.Duration     `yaml:"timeout"`
	FailureThreshold  *int              `yaml:"failure_threshold"`
	RecoveryThreshold *int              `yaml:"recovery_threshold"`
	ExpectedStatus    []int             `yaml:"expected_status"`
	ExpectedText      string            `yaml:"expected_text"`
	Headers           map[string]string `yaml:"headers"`
}

// RateLimit is one beta_rate_limit (throttle) block.
type RateLimit struct {
	Period       time.Duration `yaml:"period"`
	PerPeriod    int           `yaml:"per_period"`
	PeriodWindow string        `yaml:"period_window"` // sliding (default) | fixed
	Mode         string        `yaml:"mode"`          // wait (default) | block
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

// BackendTLS is the tls block. Each item is written either inline (PEM text,
// or base64 DER when there is no PEM header) or as a _file (PEM or raw DER),
// never both.
type BackendTLS struct {
	ServerCACertificate     string `yaml:"server_ca_certificate"`
	ServerCACertificateFile string `yaml:"server_ca_certificate_file"`
	ClientCertificate       string `yaml:"client_certificate"`
	ClientCertificateFile   string `yaml:"client_certificate_file"`
	ClientPrivateKey        string `yaml:"client_private_key"`
	ClientPrivateKeyFile    string `yaml:"client_private_key_file"`
}

// TLSError names the tls attribute a problem comes from. Its text never
// holds the material itself: inline keys are secrets and end up in tickets.
type TLSError struct {
	Attr string
	Err  error
}

func (e *TLSError) Error() string { return "tls." + e.Attr + ": " + e.Err.Error() }

func (e *TLSError) Unwrap() error { return e.Err }

// tlsItem is one certificate or key as written: inline or read from a file.
type tlsItem struct {
	attr string // the key that supplied it
	data []byte
	pem  bool
}

// pick returns the key written for an item, name or name_file, and "" for
// neither. Only what was written is checked here; nothing is read yet.
func pick(name, value, file string) (string, error) {
	switch {
	case value != "" && file != "":
		return "", &TLSError{name, fmt.Errorf("set either %s or %s_file, not both", name, name)}
	case value != "":
		return name, nil
	case file != "":
		return name + "_file", nil
	}
	return "", nil
}

// readItem loads the item attr names: the file, or the inline value.
func readItem(attr, value, file string) (*tlsItem, error) {
	if strings.HasSuffix(attr, "_file") {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, &TLSError{attr, fmt.Errorf("cannot read %q: %s", file, fileErrorReason(err))}
		}
		return &tlsItem{attr: attr, data: data, pem: looksPEM(data)}, nil
	}
	if looksPEM([]byte(value)) {
		return &tlsItem{attr: attr, data: []byte(value), pem: true}, nil
	}
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(value), ""))
	if err != nil || len(der) == 0 {
		// The decoder's message is dropped: it could quote the value.
		return nil, &TLSError{attr, fmt.Errorf("is neither PEM text nor base64-encoded DER (for a path use %s_file)", attr)}
	}
	return &tlsItem{attr: attr, data: der}, nil
}

func looksPEM(data []byte) bool { return bytes.Contains(data, []byte("-----BEGIN ")) }

// certificates returns every certificate of the item, leaf or CA first as written.
func (it *tlsItem) certificates() ([]*x509.Certificate, error) {
	if !it.pem {
		certs, err := x509.ParseCertificates(it.data)
		switch {
		case err != nil:
			return nil, &TLSError{it.attr, fmt.Errorf("holds neither a PEM nor a DER certificate: %v", err)}
		case len(certs) == 0:
			return nil, &TLSError{it.attr, errors.New("holds no certificate")}
		}
		return certs, nil
	}
	var certs []*x509.Certificate
	rest := it.data
	for {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, &TLSError{it.attr, fmt.Errorf("certificate %d does not parse: %v", len(certs)+1, err)}
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, &TLSError{it.attr, errors.New("holds no PEM CERTIFICATE block")}
	}
	return certs, nil
}

// privateKey parses PKCS #8, PKCS #1 or SEC 1, as PEM or DER. The parser
// errors are not passed on, so no part of the key reaches a message.
func (it *tlsItem) privateKey() (crypto.Signer, error) {
	der := it.data
	if it.pem {
		der = nil
		rest := it.data
		for der == nil {
			var block *pem.Block
			if block, rest = pem.Decode(rest); block == nil {
				return nil, &TLSError{it.attr, errors.New("holds no PEM PRIVATE KEY block")}
			}
			if block.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
				return nil, &TLSError{it.attr, errors.New("encrypted private keys are not supported")}
			}
			if strings.HasSuffix(block.Type, "PRIVATE KEY") {
				der = block.Bytes
			}
		}
	}
	var key any
	var err error
	if key, err = x509.ParsePKCS8PrivateKey(der); err != nil {
		if key, err = x509.ParsePKCS1PrivateKey(der); err != nil {
			key, err = x509.ParseECPrivateKey(der)
		}
	}
	if err != nil {
		return nil, &TLSError{it.attr, errors.New("is not a PKCS #8, PKCS #1 or SEC 1 private key")}
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, &TLSError{it.attr, fmt.Errorf("holds a %T, which cannot sign a TLS handshake", key)}
	}
	return signer, nil
}

// LoadServerCAs returns the certificates of server_ca_certificate(_file),
// nil when neither is written.
func (t *BackendTLS) LoadServerCAs() ([]*x509.Certificate, error) {
	attr, err := pick("server_ca_certificate", t.ServerCACertificate, t.ServerCACertificateFile)
	if attr == "" {
		return nil, err
	}
	it, err := readItem(attr, t.ServerCACertificate, t.ServerCACertificateFile)
	if err != nil {
		return nil, err
	}
	return it.certificates()
}

// LoadClientCertificate returns the client certificate with its key, nil
// when neither is written.
func (t *BackendTLS) LoadClientCertificate() (*tls.Certificate, error) {
	certAttr, err := pick("client_certificate", t.ClientCertificate, t.ClientCertificateFile)
	if err != nil {
		return nil, err
	}
	keyAttr, err := pick("client_private_key", t.ClientPrivateKey, t.ClientPrivateKeyFile)
	switch {
	case err != nil:
		return nil, err
	case certAttr == "" && keyAttr == "":
		return nil, nil
	case keyAttr == "":
		missing := "client_private_key" + strings.TrimPrefix(certAttr, "client_certificate")
		return nil, &TLSError{missing, fmt.Errorf("tls: missing client private key (%s is set)", certAttr)}
	case certAttr == "":
		missing := "client_certificate" + strings.TrimPrefix(keyAttr, "client_private_key")
		return nil, &TLSError{missing, fmt.Errorf("tls: missing client certificate (%s is set)", keyAttr)}
	}
	key, err := readItem(keyAttr, t.ClientPrivateKey, t.ClientPrivateKeyFile)
	if err != nil {
		return nil, err
	}
	signer, err := key.privateKey()
	if err != nil {
		return nil, err
	}
	cert, err := readItem(certAttr, t.ClientCertificate, t.ClientCertificateFile)
	if err != nil {
		return nil, err
	}
	chain, err := cert.certificates()
	if err != nil {
		return nil, err
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(chain[0].PublicKey) {
		return nil, &TLSError{keyAttr, fmt.Errorf("does not match the public key of %s", certAttr)}
	}
	out := &tls.Certificate{PrivateKey: signer, Leaf: chain[0]}
	for _, c := range chain {
		out.Certificate = append(out.Certificate, c.Raw)
	}
	return out, nil
}

// Unsupported marks a Couper block backline does not implement; writing it is
// a load error rather than a silently ignored security setting.
type Unsupported struct{ Set bool }

// DecodeNode implements NodeDecoder.
func (u *Unsupported) DecodeNode(d *Decoder, n *yaml.Node, path string) {
	u.Set = true
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

// refinementForbidden lists what a refinement may not set (spec §3).
var refinementForbidden = []string{
	"disable_certificate_validation", "disable_connection_reuse", "http2", "http2_prior_knowledge", "max_connections",
	"beta_health", "beta_rate_limit", "tls", "oauth2", "beta_token_request", "openapi",
}

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
}

func (v *gatewayValidator) validateBackend(path string, b *Backend) {
	if b.Origin != "" && !strings.Contains(b.Origin, "${") {
		if msg := checkOrigin(b.Origin); msg != "" {
			v.add(path+".origin", "%s", msg)
		}
	}
	if b.Proxy != "" {
		if u, err := url.Parse(b.Proxy); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			v.add(path+".proxy", "must be an http:// or https:// URL, got %q", b.Proxy)
		}
	}
	if b.MaxConnections < 0 {
		v.add(path+".max_connections", "must not be negative, got %d", b.MaxConnections)
	}
	if b.Has("set_response_status") && (b.SetResponseStatus < 100 || b.SetResponseStatus > 599) {
		v.add(path+".set_response_status", "must be an HTTP status 100..599, got %d", b.SetResponseStatus)
	}
	for _, key := range []struct{ name, value string }{{"path", b.BackendPath}, {"path_prefix", b.PathPrefix}} {
		if msg := CheckBackendPath(key.value); msg != "" && !strings.Contains(key.value, "${") {
			v.add(path+"."+key.name, "%s", msg)
		}
	}
	for key, u := range map[string]Unsupported{"oauth2": b.OAuth2, "beta_token_request": b.TokenRequest, "openapi": b.OpenAPI} {
		if u.Set {
			v.add(path+"."+key, "not supported yet")
		}
	}
	v.validateModifiers(path, &b.Modifiers)
	v.validateRateLimits(path+".beta_rate_limit", b.RateLimits)
	if b.TLS != nil {
		v.validateTLS(path+".tls", b)
	}
}

// checkOrigin returns "" when origin is an absolute http(s) URL with a host.
func checkOrigin(origin string) string {
	u, err := url.Parse(origin)
	if err != nil {
		return fmt.Sprintf("invalid url: %v", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || strings.Contains(u.Host, "/") {
		return fmt.Sprintf("the origin attribute has to contain an absolute URL with a valid hostname: %q", origin)
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
		return fmt.Sprintf("invalid fragment found in %q", p)
	case strings.Contains(p, "?"):
		return fmt.Sprintf("invalid query string found in %q", p)
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
	for i := range limits {
		l := &limits[i]
		p := fmt.Sprintf("%s[%d]", path, i)
		if len(limits) == 1 && v.c.Lines[p] == 0 {
			p = path // written as a single mapping
		}
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

func (v *gatewayValidator) validateTLS(path string, b *Backend) {
	t := b.TLS
	report := func(err error) {
		var te *TLSError
		if errors.As(err, &te) {
			v.add(path+"."+te.Attr, "%v", te.Err)
		} else {
			v.add(path, "%v", err)
		}
	}
	if _, err := t.LoadServerCAs(); err != nil {
		report(err)
	}
	if b.DisableCertificateValidation && (t.ServerCACertificate != "" || t.ServerCACertificateFile != "") {
		attr := "server_ca_certificate"
		if t.ServerCACertificateFile != "" {
			attr += "_file"
		}
		v.add(path+"."+attr, "configured 'disable_certificate_validation' along with '%s' attribute", attr)
	}
	if _, err := t.LoadClientCertificate(); err != nil {
		report(err)
	}
}

func (v *gatewayValidator) validateHealth(path string, b *Backend) {
	h := b.Health
	if h == nil {
		return
	}
	path += ".beta_health"
	if b.Origin == "" || strings.Contains(b.Origin, "${") {
		v.add(path, "needs a fixed origin on the backend to probe")
	}
	written := func(key string) bool { return v.c.Lines[path+"."+key] > 0 }
	if !written("interval") {
		h.Interval = DefaultHealthInterval
	} else if h.Interval <= 0 {
		v.add(path+".interval", "must be greater than 0")
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
		v.validateRef(path+".proxy.backend", &e.Proxy.Backend, e.Proxy.URL)
	default:
		r := e.Request
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

// reflectValue is the settable value behind pointer p.
func reflectValue(p any) reflect.Value { return reflect.ValueOf(p).Elem() }
