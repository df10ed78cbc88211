package config

import (
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// OAuth2 grant types (Couper's oauth2 block in a backend).
const (
	GrantClientCredentials = "client_credentials"
	GrantPassword          = "password"
	GrantJWTBearer         = "urn:ietf:params:oauth:grant-type:jwt-bearer"
)

// Token endpoint client authentication methods.
const (
	AuthClientSecretBasic = "client_secret_basic"
	AuthClientSecretPost  = "client_secret_post"
	AuthClientSecretJWT   = "client_secret_jwt"
	AuthPrivateKeyJWT     = "private_key_jwt"
)

// JWTSigningProfile signs the JWTs an oauth2 block sends: a client
// assertion (client_secret_jwt, private_key_jwt) or a jwt-bearer
// assertion.
type JWTSigningProfile struct {
	SignatureAlgorithm string        `yaml:"signature_algorithm"`
	Key                string        `yaml:"key"`
	KeyFile            string        `yaml:"key_file"`
	TTL                time.Duration `yaml:"ttl"`
	Claims             JSONBody      `yaml:"claims"`
	Headers            JSONBody      `yaml:"headers"`
	// KeyData is the key (inline or read from key_file) once validated.
	KeyData []byte `yaml:"-"`
}

// signatureAlgorithms are the JWT algorithms a signing profile may use.
var signatureAlgorithms = []string{"RS256", "RS384", "RS512", "HS256", "HS384", "HS512", "ES256", "ES384", "ES512"}

// DefaultOAuth2Retries is how often a 401 leads to a fresh token and a replay.
const DefaultOAuth2Retries = 1

// MaxOAuth2Retries bounds retries: each is a token fetch and a replay.
const MaxOAuth2Retries = 5

// OAuth2 is a backend's oauth2 block: the backend fetches a bearer token
// from token_endpoint (through Backend) and sends it upstream.
type OAuth2 struct {
	GrantType               string     `yaml:"grant_type"`
	TokenEndpoint           string     `yaml:"token_endpoint"`
	Backend                 BackendRef `yaml:"backend"`
	ClientID                string     `yaml:"client_id"`
	ClientSecret            string     `yaml:"client_secret"`
	TokenEndpointAuthMethod string     `yaml:"token_endpoint_auth_method"`
	Scope                   string     `yaml:"scope"`
	Username                string     `yaml:"username"`
	Password                string     `yaml:"password"`
	Assertion               string     `yaml:"assertion"`
	Retries                 *int       `yaml:"retries"`

	JWTSigningProfile *JWTSigningProfile `yaml:"jwt_signing_profile"`
}

// TokenRequest is one beta_token_request block: a request whose response
// gives a token (and its lifetime) for the backend's templates.
type TokenRequest struct {
	Name           string     `yaml:"-"`
	Path           string     `yaml:"-"`
	Backend        BackendRef `yaml:"backend"`
	URL            string     `yaml:"url"`
	Method         string     `yaml:"method"`
	Headers        Values     `yaml:"headers"`
	QueryParams    Values     `yaml:"query_params"`
	Body           string     `yaml:"body"`
	JSONBody       JSONBody   `yaml:"json_body"`
	FormBody       Values     `yaml:"form_body"`
	Token          string     `yaml:"token"`
	TTL            string     `yaml:"ttl"`
	ExpectedStatus []int      `yaml:"expected_status"`
}

// TokenRequests are a backend's beta_token_request blocks by name. Written
// as one block (any of its attribute keys at the top) it is named
// "default", as Couper's unlabeled block; or as a mapping of names (not
// attribute names) to blocks.
type TokenRequests []*TokenRequest

// DecodeNode implements NodeDecoder.
func (ts *TokenRequests) DecodeNode(d *Decoder, n *yaml.Node, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "must be a token request block, or a mapping of names to token request blocks")
		return
	}
	// One block when any key is an attribute; names may not be one.
	attrs := structFields(reflect.TypeOf(TokenRequest{}))
	single := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		if _, ok := attrs[n.Content[i].Value]; ok {
			single = true
		}
	}
	if single {
		t := &TokenRequest{Name: "default", Path: path}
		d.Decode(n, t, path)
		*ts = append(*ts, t)
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		p := join(path, k.Value)
		if d.Lines != nil {
			d.Lines[p] = k.Line
		}
		t := &TokenRequest{Name: k.Value, Path: p}
		d.Decode(val, t, p)
		*ts = append(*ts, t)
	}
}

// validateOAuth2 checks a backend's oauth2 block and fills its defaults.
func (v *gatewayValidator) validateOAuth2(path string, o *OAuth2) {
	written := func(key string) bool { return v.c.Lines[path+"."+key] > 0 }
	switch o.GrantType {
	case GrantClientCredentials, GrantPassword, GrantJWTBearer:
	case "":
		v.add(path+".grant_type", "is required (%s, %s or %s)", GrantClientCredentials, GrantPassword, GrantJWTBearer)
	default:
		v.add(path+".grant_type", "unsupported grant type %q (use %s, %s or %s)", o.GrantType, GrantClientCredentials, GrantPassword, GrantJWTBearer)
	}
	if o.TokenEndpoint == "" {
		v.add(path+".token_endpoint", "is required")
	} else {
		v.checkTokenURL(path+".token_endpoint", o.TokenEndpoint, true)
	}
	if o.TokenEndpointAuthMethod == "" {
		o.TokenEndpointAuthMethod = AuthClientSecretBasic
	}
	method := o.TokenEndpointAuthMethod
	switch method {
	case AuthClientSecretBasic, AuthClientSecretPost, AuthClientSecretJWT, AuthPrivateKeyJWT:
	default:
		v.add(path+".token_endpoint_auth_method", "unsupported method %q (use %s, %s, %s or %s)", method,
			AuthClientSecretBasic, AuthClientSecretPost, AuthClientSecretJWT, AuthPrivateKeyJWT)
	}
	if o.GrantType == GrantClientCredentials || o.GrantType == GrantPassword {
		if o.ClientID == "" {
			v.add(path+".client_id", "is required for grant_type %s", o.GrantType)
		}
		if o.ClientSecret == "" && method != AuthPrivateKeyJWT {
			v.add(path+".client_secret", "is required for grant_type %s", o.GrantType)
		}
	}
	if written("client_secret") && method == AuthPrivateKeyJWT {
		v.add(path+".client_secret", "is not used with token_endpoint_auth_method %s (the signing profile's key signs)", AuthPrivateKeyJWT)
	}
	v.validateSigningProfile(path, o)
	switch o.GrantType {
	case GrantPassword:
		if o.Username == "" {
			v.add(path+".username", "is required for grant_type password")
		}
		if o.Password == "" {
			v.add(path+".password", "is required for grant_type password")
		}
	case GrantJWTBearer:
		if o.Assertion == "" && o.JWTSigningProfile == nil {
			v.add(path+".assertion", "is required for grant_type %s without a jwt_signing_profile", GrantJWTBearer)
		}
		if o.Assertion != "" && o.JWTSigningProfile != nil && method != AuthClientSecretJWT && method != AuthPrivateKeyJWT {
			v.add(path+".jwt_signing_profile", "is not used: the assertion is given")
		}
	}
	for _, key := range []string{"username", "password"} {
		if written(key) && o.GrantType != GrantPassword {
			v.add(path+"."+key, "is only used with grant_type password")
		}
	}
	if written("assertion") && o.GrantType != GrantJWTBearer {
		v.add(path+".assertion", "is only used with grant_type %s", GrantJWTBearer)
	}
	if o.Retries == nil {
		o.Retries = ptr(DefaultOAuth2Retries)
	} else if *o.Retries < 0 || *o.Retries > MaxOAuth2Retries {
		v.add(path+".retries", "must be 0..%d, got %d", MaxOAuth2Retries, *o.Retries)
	}
	if o.TokenEndpoint != "" {
		v.validateTokenBackend(path+".backend", &o.Backend, o.TokenEndpoint)
	}
}

// checkTokenURL refuses a token URL that is not absolute (when it must be)
// or carries credentials, which would be dropped; the message never
// repeats the value, which may hold them.
func (v *gatewayValidator) checkTokenURL(path, raw string, absolute bool) {
	if strings.Contains(raw, "${") {
		return
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		v.add(path, "is not a valid URL")
	case u.User != nil:
		v.add(path, "must not contain credentials (user:password@); use client_id and client_secret, or headers")
	case absolute && checkOrigin(raw) != "":
		v.add(path, "must be an absolute http(s) URL with a host")
	}
}

// validateSigningProfile checks the jwt_signing_profile an oauth2 block
// needs for a JWT client assertion or a self-signed jwt-bearer assertion.
func (v *gatewayValidator) validateSigningProfile(path string, o *OAuth2) {
	method := o.TokenEndpointAuthMethod
	jwtAuth := method == AuthClientSecretJWT || method == AuthPrivateKeyJWT
	selfSigned := o.GrantType == GrantJWTBearer && o.Assertion == ""
	p := o.JWTSigningProfile
	if p == nil {
		if jwtAuth {
			v.add(path+".jwt_signing_profile", "is required for token_endpoint_auth_method %s", method)
		}
		return
	}
	path += ".jwt_signing_profile"
	if !jwtAuth && !selfSigned {
		v.add(path, "is only used with token_endpoint_auth_method %s or %s, or grant_type %s without assertion", AuthClientSecretJWT, AuthPrivateKeyJWT, GrantJWTBearer)
		return
	}
	alg := p.SignatureAlgorithm
	hmacAlg := strings.HasPrefix(alg, "HS")
	switch {
	case !slices.Contains(signatureAlgorithms, alg):
		v.add(path+".signature_algorithm", "must be one of %s, got %q", strings.Join(signatureAlgorithms, ", "), alg)
	case method == AuthClientSecretJWT && !hmacAlg:
		v.add(path+".signature_algorithm", "must be HS256, HS384 or HS512 for %s (the client_secret is the key)", AuthClientSecretJWT)
	case method == AuthPrivateKeyJWT && hmacAlg:
		v.add(path+".signature_algorithm", "must be an RS* or ES* algorithm for %s", AuthPrivateKeyJWT)
	}
	hasKey := p.Key != "" || p.KeyFile != ""
	switch {
	case p.Key != "" && p.KeyFile != "":
		v.add(path+".key_file", "set either key or key_file, not both")
	case method == AuthClientSecretJWT && hasKey:
		v.add(path+".key", "is not used with %s: the client_secret is the key", AuthClientSecretJWT)
	case method != AuthClientSecretJWT && !hasKey:
		v.add(path+".key", "key or key_file is required")
	default:
		v.checkSigningKey(path, p)
	}
	if p.TTL <= 0 {
		v.add(path+".ttl", "is required and must be greater than 0 (it sets the exp claim)")
	}
	if p.Claims.Set {
		if _, ok := p.Claims.Value.(map[string]any); !ok {
			v.add(path+".claims", "must be a mapping")
		}
	}
	if p.Headers.Set {
		h, ok := p.Headers.Value.(map[string]any)
		if !ok {
			v.add(path+".headers", "must be a mapping")
		} else if _, ok := h["alg"]; ok {
			v.add(path+".headers.alg", "cannot be set: it is signature_algorithm")
		}
	}
}

// validateTokenRequests checks a backend's beta_token_request blocks.
func (v *gatewayValidator) validateTokenRequests(ts TokenRequests) {
	seen := map[string]bool{}
	for _, t := range ts {
		path := t.Path
		if !backendLabel.MatchString(t.Name) {
			v.add(path, "token request name contains invalid character(s), allowed are 'a-z', 'A-Z', '0-9' and '_'")
		}
		if seen[t.Name] {
			v.add(path, "token request %q is defined twice", t.Name)
		}
		seen[t.Name] = true
		if t.Token == "" {
			v.add(path+".token", "is required (for example ${backend_response.json_body.access_token})")
		}
		if t.TTL == "" {
			v.add(path+".ttl", "is required (a duration like \"60s\", or ${backend_response.json_body.expires_in}s)")
		} else if !strings.Contains(t.TTL, "${") {
			if d, err := ParseDuration(t.TTL); err != nil {
				v.add(path+".ttl", "%v", err)
			} else if d <= 0 {
				v.add(path+".ttl", "must be greater than 0")
			}
		}
		var bodies []string
		for _, key := range requestBodyKeys {
			if v.c.Lines[path+"."+key] > 0 {
				bodies = append(bodies, key)
			}
		}
		sort.Slice(bodies, func(i, j int) bool { return v.c.Lines[path+"."+bodies[i]] < v.c.Lines[path+"."+bodies[j]] })
		if len(bodies) > 1 {
			v.add(path+"."+bodies[1], "set only one of body, json_body and form_body (%s is set too)", bodies[0])
		}
		t.Method = strings.ToUpper(strings.TrimSpace(t.Method))
		switch {
		case t.Method != "":
		case t.Body != "" || t.JSONBody.Set || t.FormBody != nil:
			t.Method = "POST"
		default:
			t.Method = "GET"
		}
		if !validToken(t.Method) {
			v.add(path+".method", "%q is not a valid HTTP method", t.Method)
		}
		for i, s := range t.ExpectedStatus {
			if s < 100 || s > 599 {
				v.add(fmt.Sprintf("%s.expected_status[%d]", path, i), "must be an HTTP status 100..599, got %d", s)
			}
		}
		for name := range t.Headers {
			if !validToken(name) {
				v.add(path+".headers."+name, "%q is not a valid HTTP header name", name)
			}
		}
		v.checkTokenURL(path+".url", t.URL, false)
		if t.URL == "" && t.Backend.Label == "" && t.Backend.Inline == nil {
			v.add(path+".url", "is required without a backend")
		} else {
			v.validateTokenBackend(path+".backend", &t.Backend, t.URL)
		}
	}
}

// validateTokenBackend checks the backend a token is fetched through: a
// label, a refinement, an inline backend, or none (an absolute url).
func (v *gatewayValidator) validateTokenBackend(path string, r *BackendRef, rawURL string) {
	if r.Label == "" && r.Inline == nil {
		if strings.Contains(rawURL, "${") || checkOrigin(rawURL) != "" {
			v.add(path, "is required unless the url is an absolute http(s) URL")
		}
		return
	}
	v.validateRef(path, r, rawURL)
}

// tokenBackendLabels are the definitions labels b fetches tokens through.
func tokenBackendLabels(b *Backend) []string {
	var out []string
	add := func(r *BackendRef) {
		if r.Label != "" {
			out = append(out, r.Label)
		} else if r.Inline != nil {
			out = append(out, tokenBackendLabels(r.Inline)...)
		}
	}
	for _, r := range b.tokenRefs() {
		add(r)
	}
	return out
}

// tokenRefs are the backend references b fetches tokens through: its
// oauth2 backend and each beta_token_request's.
func (b *Backend) tokenRefs() []*BackendRef {
	var out []*BackendRef
	if b.OAuth2 != nil {
		out = append(out, &b.OAuth2.Backend)
	}
	for _, t := range b.TokenRequests {
		if t != nil {
			out = append(out, &t.Backend)
		}
	}
	return out
}

// checkTokenCycles refuses definitions whose token fetches lead back to
// themselves: the fetch would wait for its own token until it timed out.
func (v *gatewayValidator) checkTokenCycles() {
	defs := v.c.Definitions.Backends
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	var visit func(label string, chain []string) bool
	visit = func(label string, chain []string) bool {
		switch state[label] {
		case visiting:
			v.add(defs[label].Path, "token fetches form a cycle: %s", strings.Join(append(chain, label), " -> "))
			return false
		case done:
			return true
		}
		b := defs[label]
		if b == nil {
			return true
		}
		state[label] = visiting
		for _, next := range tokenBackendLabels(b) {
			if !visit(next, append(chain, label)) {
				state[label] = done
				return false
			}
		}
		state[label] = done
		return true
	}
	for _, label := range v.c.Definitions.SortedLabels() {
		visit(label, nil)
	}
}
