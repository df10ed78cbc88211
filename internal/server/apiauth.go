package server

import (
	"crypto/sha256"
	"crypto/subtle"
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
	// err is set when a credentials file could not be read; every API
	// request is then refused (fail closed) and Serve returns it.
	err error
}

func (a apiAuth) enabled() bool { return a.basic || a.bearer || a.err != nil }

func loadAPIAuth(c config.APIAuth) apiAuth {
	var a apiAuth
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
	if c.Username != "" || password != "" {
		a.basic = true
		a.user = sha256.Sum256([]byte(c.Username))
		a.password = sha256.Sum256([]byte(password))
	}
	if token != "" {
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

// protectAPI applies API auth to /api/v1/ only: Prometheus scrapers and
// liveness probes usually cannot send credentials, and neither /metrics nor
// /healthz reveals more than the status page.
func (s *Server) protectAPI(next http.Handler) http.Handler {
	if !s.auth.enabled() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isAPIPath(r.URL.Path) || s.auth.allowed(r) {
			next.ServeHTTP(w, r)
			return
		}
		if s.auth.err != nil {
			writeError(w, http.StatusServiceUnavailable, "API credentials could not be loaded")
			return
		}
		w.Header().Set("WWW-Authenticate", s.auth.challenge())
		writeError(w, http.StatusUnauthorized, "authentication required")
	})
}

func isAPIPath(p string) bool {
	return p == "/api/v1" || strings.HasPrefix(p, "/api/v1/")
}
