package server

import "net/http"

// sameOriginOnly refuses state-changing browser requests from other sites
// (403), with net/http's CrossOriginProtection (Sec-Fetch-Site, else Origin
// against Host). An operator's browser keeps Basic credentials after viewing
// the status page, so without it any web page could POST a reload or a
// drain to the API. nginx, Dovecot, curl and ctl send neither header and are
// not affected; GET, HEAD and OPTIONS are always allowed.
func sameOriginOnly(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusForbidden, "cross-origin request refused: the API only takes changes from its own pages and from non-browser clients")
	}))
	return cop.Handler(next)
}
