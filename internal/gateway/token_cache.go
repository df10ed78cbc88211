package gateway

import (
	"context"
	"sync"
	"time"
)

// tokenCache holds one token (an oauth2 access token, a beta_token_request
// result) until it expires. Concurrent requests share one fetch: the first
// starts it, the others wait for it, each bounded by its own context. The
// fetch itself is detached from any one client, so a client leaving does
// not fail the others; the token backend's timeouts bound it.
type tokenCache struct {
	base  context.Context // the gateway's: Close ends running fetches
	fetch func(context.Context) (token string, ttl time.Duration, err error)
	now   func() time.Time
	// logged is told about each fetch (never the token).
	logged func(ttl time.Duration, err error)

	mu       sync.Mutex
	value    string
	expires  time.Time
	inflight *tokenFetch
	// failed is the last failed fetch, answered again until failUntil:
	// a broken token endpoint gets one request per tokenFailHold, not
	// one per client request.
	failed    *tokenFetch
	failUntil time.Time
}

// tokenFailHold is how long a failed fetch is answered from memory.
const tokenFailHold = time.Second

type tokenFetch struct {
	done  chan struct{}
	value string
	err   error
}

func newTokenCache(base context.Context, fetch func(context.Context) (string, time.Duration, error)) *tokenCache {
	if base == nil {
		base = context.Background()
	}
	return &tokenCache{base: base, fetch: fetch, now: time.Now}
}

// logFetches logs each fetch of a token: info when it worked (with the
// lifetime it is cached for), warn when not; never the token.
func (g *Gateway) logFetches(tc *tokenCache, backend, kind string) {
	tc.logged = func(ttl time.Duration, err error) {
		if err != nil {
			g.logger.Warn("gateway token fetch failed", "backend", backend, "token", kind, "error_type", kindTokenRequest.Type, "error", errText(err))
			return
		}
		g.logger.Info("gateway token fetched", "backend", backend, "token", kind, "cached_for", ttl)
	}
}

// get returns a valid token, fetching one when none is cached.
func (tc *tokenCache) get(ctx context.Context) (string, error) {
	tc.mu.Lock()
	if tc.value != "" && tc.now().Before(tc.expires) {
		v := tc.value
		tc.mu.Unlock()
		return v, nil
	}
	if tc.failed != nil && tc.now().Before(tc.failUntil) {
		err := tc.failed.err
		tc.mu.Unlock()
		return "", err
	}
	f := tc.inflight
	if f == nil {
		f = &tokenFetch{done: make(chan struct{})}
		tc.inflight = f
		go tc.run(f)
	}
	tc.mu.Unlock()
	select {
	case <-f.done:
		return f.value, f.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (tc *tokenCache) run(f *tokenFetch) {
	v, ttl, err := tc.fetch(tc.base)
	if tc.logged != nil {
		tc.logged(ttl, err)
	}
	tc.mu.Lock()
	tc.inflight = nil
	switch {
	case err != nil:
		tc.failed, tc.failUntil = f, tc.now().Add(tokenFailHold)
	case ttl > 0:
		tc.value, tc.expires = v, tc.now().Add(ttl)
	}
	if err == nil {
		tc.failed = nil
	}
	tc.mu.Unlock()
	f.value, f.err = v, err
	close(f.done)
}

// invalidate drops the cached token if it is still used (an origin refused
// it); a token another request fetched meanwhile stays.
func (tc *tokenCache) invalidate(used string) {
	tc.mu.Lock()
	if tc.value == used && used != "" {
		tc.value = ""
	}
	tc.mu.Unlock()
}

// Token lifetimes: a token is used until shortly before it expires.
const (
	// tokenSkew is the least margin before expiry; 10 % of the lifetime
	// when that is more (Couper keeps 90 % of expires_in).
	tokenSkew = 5 * time.Second
	// maxTokenLifetime caps what a token endpoint may claim.
	maxTokenLifetime = 24 * time.Hour
	// defaultTokenLifetime applies when a token response has no
	// expires_in: cached for a while, renewed earlier on a 401.
	defaultTokenLifetime = 5 * time.Minute
)

// cacheLifetime is how long a token said to live for d is used.
func cacheLifetime(d time.Duration) time.Duration {
	d = min(d, maxTokenLifetime)
	return max(d-max(d/10, tokenSkew), 0)
}
