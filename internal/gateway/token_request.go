package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/backline/backline/internal/config"
)

// tokenRequest is a compiled beta_token_request: a request built from its
// own attributes, sent through its backend; token and ttl are read from
// the answer and the token is cached for ttl.
type tokenRequest struct {
	g        *Gateway
	name     string
	stage    *requestStage
	backend  *backendView
	token    template
	ttl      template
	expected []int
	cache    *tokenCache
}

func (g *Gateway) compileTokenRequest(c *compiler, t *config.TokenRequest) (*tokenRequest, error) {
	saved := c.tokens
	defer func() { c.tokens = saved }()
	c.tokens = tokenScope{shared: true}
	p := t.Path
	rs := &requestStage{
		method:   t.Method,
		url:      c.template(p+".url", t.URL),
		hasURL:   t.URL != "",
		headers:  c.values(p+".headers", t.Headers),
		query:    paramMods{set: c.values(p+".query_params", t.QueryParams)},
		body:     c.template(p+".body", t.Body),
		formBody: c.values(p+".form_body", t.FormBody),
		hasForm:  t.FormBody != nil,
	}
	if t.JSONBody.Set {
		rs.jsonBody = c.jsonTemplate(p+".json_body", t.JSONBody.Value)
	}
	tr := &tokenRequest{g: g, name: t.Name, stage: rs, expected: t.ExpectedStatus}
	c.tokens = tokenScope{shared: true, response: true}
	tr.token = c.template(p+".token", t.Token)
	tr.ttl = c.template(p+".ttl", t.TTL)
	c.tokens = saved
	bv, err := g.resolveBackend(c, &t.Backend, p)
	if err != nil {
		return nil, err
	}
	tr.backend = bv
	tr.cache = newTokenCache(g.tokenCtx, tr.fetch)
	return tr, nil
}

// fetch sends the token request and evaluates token and ttl on its answer.
func (tr *tokenRequest) fetch(ctx context.Context) (string, time.Duration, error) {
	ep := &endpoint{request: tr.stage}
	rd := &requestData{}
	up, _, err := ep.outgoing((&http.Request{}).WithContext(ctx), rd, "", false)
	if err != nil {
		return "", 0, err
	}
	up.data = rd
	resp, err := tr.g.sendTokenRequest(ctx, tr.backend, up)
	if err != nil {
		return "", 0, err
	}
	if len(tr.expected) > 0 && !slices.Contains(tr.expected, resp.status) {
		return "", 0, fmt.Errorf("token request answered %d, expected one of %v", resp.status, tr.expected)
	}
	rd.tok = &tokenData{resp: resp}
	token := tr.token.eval(rd)
	switch {
	case token == "":
		return "", 0, fmt.Errorf("token evaluated to an empty value (status %d)", resp.status)
	case len(token) > maxAccessToken:
		return "", 0, errors.New("token is too long")
	}
	ttl, err := config.ParseDuration(tr.ttl.eval(rd))
	if err != nil {
		// Not the value: a mistaken ttl expression may read the token.
		return "", 0, errors.New("ttl did not evaluate to a duration")
	}
	return token, min(ttl, maxTokenLifetime), nil
}

// tokensLayer resolves the backend's beta_token_request tokens before its
// modifiers run, which may put them into headers, the query or the path.
type tokensLayer struct {
	requests []*tokenRequest
	next     layer
}

func (l *tokensLayer) roundTrip(c *call) (*exchange, *gatewayError) {
	td := &tokenData{tokens: make([]namedToken, 0, len(l.requests))}
	for _, tr := range l.requests {
		v, err := tr.cache.get(c.ctx)
		if err != nil {
			return nil, tokenError(c.ctx, err)
		}
		td.tokens = append(td.tokens, namedToken{tr.name, v})
	}
	c.up.data.tok = td
	return l.next.roundTrip(c)
}

// tokenError is a failed token fetch as the client sees it: the client's
// own departure, or a 502 of the token kind (or the fetch's own kind for
// a health gate or throttle of the token backend).
func tokenError(ctx context.Context, err error) *gatewayError {
	if ctx.Err() != nil {
		return classify(ctx, time.Time{}, err)
	}
	return &gatewayError{kind: kindTokenRequest, cause: err}
}
