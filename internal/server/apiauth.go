package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/backline/backline/internal/config"
)

// apiAuth holds the resolved API credentials. Secrets are kept as SHA-256
// digests so that comparing them takes the same time whatever the length or
// content of what a client sent.
type apiAuth struct {
	basic    bool
	user     [sha256.Size]byte
	password [sha256.Size]byte
	bearer   bool
	token    [sha256.Size]byte
	// publicMetrics leaves /metrics open (server.api_auth.public_metrics).
	publicMetrics bool
	// err is set when a credentials file could not be read; every API
	// request is then refused (fail closed) and Serve returns it.
	err error
}

func (a apiAuth) enabled() bool { return a.basic || a.bearer || a.err != nil }

func loadAPIAuth(c config.APIAuth) apiAuth {
	a := apiAuth{publicMetrics: c.PublicMetrics}
	password, err := secretValue(c.Password, c.PasswordFile, "server.api_auth.password_file")
	if err != nil {
		a.err = err
		return a
	}
	token, err := secretValue(c.BearerToken, c.BearerFile, "server.api_auth.bearer_token_file")
	if err != nil {
		a.err = err
		return a
	}
	// Config refuses blank secrets with a key path and line; this repeats
	// the check for Options built without it, failing closed: an empty
	// password would let `curl -u ops:` in.
	if c.Username != "" || password != "" {
		if strings.TrimSpace(password) == "" {
			a.err = errors.New("server.api_auth.password: must not be empty or blank")
			return a
		}
		a.basic = true
		a.user = sha256.Sum256([]byte(c.Username))
		a.password = sha256.Sum256([]byte(password))
	}
	if token != "" {
		if strings.TrimSpace(token) == "" {
			a.err = errors.New("server.api_auth.bearer_token: must not be empty or blank")
			return a
		}
		a.bearer = true
		a.token = sha256.Sum256([]byte(token))
	}
	return a
}

// secretValue returns the inline value, or the content of file when the
// inline value is empty.
func secretValue(inline, file, key string) (string, error) {
	if inline != "" || file == "" {
		return inline, nil
	}
	v, err := config.ReadSecretFile(file)
	if err != nil {
		return "", fmt.Errorf("%s: %w", key, err)
	}
	return v, nil
}

// allowed reports whether r carries valid API credentials.
func (a apiAuth) allowed(r *http.Request) bool {
	if a.err != nil {
		return false
	}
	h := r.Header.Get("Authorization")
	if a.bearer {
		if scheme, tok, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
			got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
			if subtle.ConstantTimeCompare(got[:], a.token[:]) == 1 {
				return true
			}
		}
	}
	if a.basic {
		if user, pass, ok := r.BasicAuth(); ok {
			u := sha256.Sum256([]byte(user))
			p := sha256.Sum256([]byte(pass))
			// Both comparisons always run: no early exit on a wrong user.
			okUser := subtle.ConstantTimeCompare(u[:], a.user[:])
			okPass := subtle.ConstantTimeCompare(p[:], a.password[:])
			if okUser&okPass == 1 {
				return true
			}
		}
	}
	return false
}

func (a apiAuth) challenge() string {
	switch {
	case a.basic && a.bearer:
		return `Basic realm="backline", charset="UTF-8", Bearer realm="backline"`
	case a.bearer:
		return `Bearer realm="backline"`
	default:
		return `Basic realm="backline", charset="UTF-8"`
	}
}

// protect applies the API credentials to every route but the liveness
// endpoint, which probes must reach without them, and /metrics when
// server.api_auth.public_metrics opts out for scrapers. The status page and
// /metrics show backend names, addresses and errors, so they are as private
// as the API; unknown paths answer 401 too, so nothing can be probed for.
func protect(a apiAuth, next http.Handler) http.Handler {
	if !a.enabled() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.public(r.URL.Path) || a.allowed(r) {
			next.ServeHTTP(w, r)
			return
		}
		if a.err != nil {
			writeError(w, http.StatusServiceUnavailable, "API credentials could not be loaded")
			return
		}
		w.Header().Set("WWW-Authenticate", a.challenge())
		writeError(w, http.StatusUnauthorized, "authentication required")
	})
}

// public reports the paths served without credentials.
func (a apiAuth) public(path string) bool {
	return path == "/healthz" || path == "/readyz" || (path == "/metrics" && a.publicMetrics && a.err == nil)
}
