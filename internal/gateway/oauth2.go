package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/backline/backline/internal/config"
)

// kindTokenRequest is a failed token fetch (oauth2, beta_token_request):
// Couper's type, a 502.
var kindTokenRequest = errorKind{"beta_backend_token_request", http.StatusBadGateway}

// maxTokenResponse bounds a token endpoint's answer; real ones are a few
// hundred bytes, a JWT access token a few KiB.
const maxTokenResponse = 64 << 10

// maxAccessToken bounds the token put into a request header.
const maxAccessToken = 16 << 10

// oauth2Source fetches and caches a backend's oauth2 access token. The
// form it sends is built once at load: nothing in it depends on a request.
type oauth2Source struct {
	g        *Gateway
	backend  *backendView // the token endpoint's backend
	endpoint string       // token_endpoint
	form     url.Values   // the grant and client credentials, fixed
	basic    string       // Authorization for client_secret_basic, or ""
	retries  int
	cache    *tokenCache

	// signer makes JWTs per fetch: a client assertion for
	// client_secret_jwt/private_key_jwt (clientID set), a jwt-bearer
	// assertion (selfSigned).
	signer     *jwtSigner
	clientID   string
	selfSigned bool
}

const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// grantForm is the form of one token request: fresh JWTs each time.
func (s *oauth2Source) grantForm() (string, error) {
	if s.signer == nil {
		return s.form.Encode(), nil
	}
	form := url.Values{}
	for k, v := range s.form {
		form[k] = v
	}
	if s.selfSigned {
		a, err := s.signer.sign(nil)
		if err != nil {
			return "", fmt.Errorf("signing the assertion: %w", err)
		}
		form.Set("assertion", a)
	}
	if s.clientID != "" {
		a, err := s.signer.sign(map[string]any{"iss": s.clientID, "sub": s.clientID, "aud": s.endpoint})
		if err != nil {
			return "", fmt.Errorf("signing the client assertion: %w", err)
		}
		form.Set("client_id", s.clientID)
		form.Set("client_assertion_type", clientAssertionType)
		form.Set("client_assertion", a)
	}
	return form.Encode(), nil
}

func (g *Gateway) compileOAuth2(c *compiler, path string, o *config.OAuth2) (*oauth2Source, error) {
	saved := c.tokens
	c.tokens = tokenScope{shared: true}
	defer func() { c.tokens = saved }()
	val := func(key, v string) string { t := c.template(path+"."+key, v); return t.eval(nil) }
	form := url.Values{"grant_type": {o.GrantType}}
	if o.Scope != "" {
		form.Set("scope", val("scope", o.Scope))
	}
	switch o.GrantType {
	case config.GrantPassword:
		form.Set("username", val("username", o.Username))
		form.Set("password", val("password", o.Password))
	case config.GrantJWTBearer:
		if o.Assertion != "" {
			form.Set("assertion", val("assertion", o.Assertion))
		}
	}
	s := &oauth2Source{g: g, endpoint: val("token_endpoint", o.TokenEndpoint), retries: *o.Retries}
	id, secret := val("client_id", o.ClientID), val("client_secret", o.ClientSecret)
	method := o.TokenEndpointAuthMethod
	switch {
	case method == config.AuthClientSecretJWT || method == config.AuthPrivateKeyJWT:
		s.clientID = id
	case id == "" && secret == "":
	case method == config.AuthClientSecretPost:
		form.Set("client_id", id)
		form.Set("client_secret", secret)
	default:
		// RFC 6749 §2.3.1: both are form-encoded before Basic.
		s.basic = "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
	}
	s.form = form
	if p := o.JWTSigningProfile; p != nil {
		signer, err := compileSigner(c, path+".jwt_signing_profile", p, secret)
		if err != nil {
			return nil, err
		}
		s.signer = signer
		s.selfSigned = o.GrantType == config.GrantJWTBearer && o.Assertion == ""
	}
	bv, err := g.resolveBackend(c, &o.Backend, path)
	if err != nil {
		return nil, err
	}
	s.backend = bv
	s.cache = newTokenCache(g.tokenCtx, s.fetch)
	return s, nil
}

// compileSigner reads the profile's key and compiles its claims and
// headers (literal values; request placeholders are refused).
func compileSigner(c *compiler, path string, p *config.JWTSigningProfile, secret string) (*jwtSigner, error) {
	// The key was read and checked at load (config.SigningKey).
	key := p.KeyData
	object := func(key string, j config.JSONBody) map[string]any {
		if !j.Set {
			return nil
		}
		raw := c.jsonTemplate(path+"."+key, j.Value).appendTo(nil, nil)
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		return m
	}
	claims, headers := object("claims", p.Claims), object("headers", p.Headers)
	signer, err := newJWTSigner(p, key, []byte(secret), claims, headers)
	if err != nil {
		return nil, fmt.Errorf("jwt_signing_profile: %w", err)
	}
	return signer, nil
}

// fetch asks the token endpoint, through its backend, for a new token.
func (s *oauth2Source) fetch(ctx context.Context) (string, time.Duration, error) {
	form, err := s.grantForm()
	if err != nil {
		return "", 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "/", strings.NewReader(form))
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if s.basic != "" {
		req.Header.Set("Authorization", s.basic)
	}
	up := &upstream{req: req, data: &requestData{}}
	if up.urlHost, err = applyURL(s.endpoint, "", false, req.URL); err != nil {
		return "", 0, err
	}
	resp, err := s.g.sendTokenRequest(ctx, s.backend, up)
	if err != nil {
		return "", 0, err
	}
	if resp.status != http.StatusOK {
		return "", 0, fmt.Errorf("token endpoint answered %d%s", resp.status, oauthErrorCode(resp.body))
	}
	return parseTokenResponse(resp.body)
}

// sendTokenRequest sends a token request through bv's layers and reads
// the answer, bounded. Errors name the status and the cause, never the
// body.
func (g *Gateway) sendTokenRequest(ctx context.Context, bv *backendView, up *upstream) (*tokenResponse, error) {
	start := time.Now()
	bm := bv.rt.metrics
	// The token backend's series count its token requests as the
	// handler counts client requests.
	defer func() { bm.duration.Observe(time.Since(start).Seconds()) }()
	ex, gerr := g.roundTrip(ctx, bv, up)
	if gerr != nil {
		bm.errors.WithLabelValues(gerr.kind.Type).Inc()
		bm.count(gerr.kind.Status)
		return nil, gerr
	}
	defer ex.done()
	bm.count(ex.resp.StatusCode)
	body, err := io.ReadAll(io.LimitReader(ex.resp.Body, maxTokenResponse+1))
	if err != nil {
		return nil, fmt.Errorf("reading the token response: %w", err)
	}
	if len(body) > maxTokenResponse {
		return nil, fmt.Errorf("token response larger than %d bytes", maxTokenResponse)
	}
	return &tokenResponse{status: ex.resp.StatusCode, header: ex.resp.Header, body: body}, nil
}

// oauthErrorCode is the error code of an RFC 6749 §5.2 answer, when it is
// a plain word: the description may echo what was sent, so it stays out.
func oauthErrorCode(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error == "" || len(e.Error) > 64 {
		return ""
	}
	for _, c := range []byte(e.Error) {
		if !(c >= 'a' && c <= 'z' || c == '_' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return ""
		}
	}
	return " (" + e.Error + ")"
}

// parseTokenResponse reads an RFC 6749 §5.1 answer: a bearer access
// token, usable as a header value, and its lifetime.
func parseTokenResponse(body []byte) (string, time.Duration, error) {
	var tr struct {
		AccessToken *string `json:"access_token"`
		TokenType   string  `json:"token_type"`
		ExpiresIn   any     `json:"expires_in"`
	}
	d := json.NewDecoder(strings.NewReader(string(body)))
	d.UseNumber()
	if err := d.Decode(&tr); err != nil {
		return "", 0, errors.New("token response is not a JSON object")
	}
	if tr.AccessToken == nil || *tr.AccessToken == "" {
		return "", 0, errors.New("token response has no access_token")
	}
	token := *tr.AccessToken
	if len(token) > maxAccessToken || !visibleASCII(token) {
		return "", 0, errors.New("token response has an access_token that cannot be sent in a header")
	}
	if tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "bearer") {
		return "", 0, fmt.Errorf("token response has token_type %q, not bearer", clip(tr.TokenType))
	}
	lifetime := defaultTokenLifetime
	switch x := tr.ExpiresIn.(type) {
	case nil:
	case json.Number:
		lifetime = secondsLifetime(x.String())
	case string: // some servers send a string
		lifetime = secondsLifetime(x)
	default:
		return "", 0, errors.New("token response has an expires_in that is not a number")
	}
	return token, cacheLifetime(lifetime), nil
}

// secondsLifetime reads expires_in; nonsense (negative, not a number)
// means the token is used for this fetch's waiters only.
func secondsLifetime(s string) time.Duration {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 {
		return 0
	}
	if f > maxTokenLifetime.Seconds() {
		return maxTokenLifetime
	}
	return time.Duration(f * float64(time.Second))
}

func visibleASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// clip keeps an untrusted value short and printable in a log line.
func clip(s string) string {
	if len(s) > 32 {
		s = s[:32]
	}
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}
