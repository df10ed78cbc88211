package server

import "net/http"

// refuseCrossSite refuses state-changing requests that a browser makes on
// behalf of another site (Sec-Fetch-Site, or an Origin that is not the
// Host). Once an operator has opened the status page, the browser re-sends
// the API's Basic credentials with every request to it, and a form or a
// no-cors fetch POST from any page needs no CORS preflight: without this,
// such a page could reload the configuration, run explain's filters or
// use the auth endpoints as a password oracle. Clients that are not
// browsers (ctl, curl, nginx, Dovecot) send neither header and pass; GET,
// HEAD and OPTIONS always pass.
func refuseCrossSite(next http.Handler) http.Handler {
	p := http.NewCrossOriginProtection()
	p.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusForbidden, "cross-origin request from a browser refused")
	}))
	return p.Handler(next)
}
