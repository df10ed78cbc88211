package auth

import (
	"math"
	"net/http"
	"strconv"
	"unicode/utf8"
)

// Auth-Error-Code values nginx passes to SMTP clients.
const (
	smtpFailCode     = "535 5.7.8"
	smtpTempfailCode = "451 4.3.0"
)

// maxStatusText bounds Auth-Status so an nginx answer stays well inside the
// 1024 bytes nginx reads.
const maxStatusText = 256

// waitSeconds is Nauthilus's Auth-Wait: int(delay * tanh(0.03 * attempt)).
func waitSeconds(delay, attempt int) int {
	if delay <= 0 || attempt <= 0 {
		return 0
	}
	return int(float64(delay) * math.Tanh(0.03*float64(attempt)))
}

// headerText makes s safe as one header value: control characters become
// spaces and the text is cut at a character boundary.
func headerText(s string, limit int) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			clean = false
			break
		}
	}
	if !clean {
		b := []byte(s)
		for i, c := range b {
			if c < 0x20 || c == 0x7f {
				b[i] = ' '
			}
		}
		s = string(b)
	}
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// setCommon sets the headers every answer carries.
func setCommon(hdr http.Header, session string) {
	setCanonical(hdr, hdrSession, session)
}

// setSuccess sets the success headers shared by all endpoints.
func setSuccess(hdr http.Header, d *decision, account string) {
	setCanonical(hdr, successPairs(make([]string, 0, 6), d, account)...)
}

// successPairs appends setSuccess's headers as name, value pairs.
func successPairs(pairs []string, d *decision, account string) []string {
	pairs = append(pairs, hdrAuthStatus, "OK")
	if account != "" {
		pairs = append(pairs, hdrAuthUser, account)
	}
	cache := "Miss"
	if d.cacheHit {
		cache = "Hit"
	}
	return append(pairs, hdrMemoryCache, cache)
}

// Canonical names of the answer headers, for setCanonical.
const (
	hdrSession     = "X-Nauthilus-Session"
	hdrAuthStatus  = "Auth-Status"
	hdrAuthUser    = "Auth-User"
	hdrMemoryCache = "X-Nauthilus-Memory-Cache"
	hdrAuthServer  = "Auth-Server"
	hdrAuthPort    = "Auth-Port"
)

// setCanonical sets headers given as name, value pairs whose names are
// already canonical (the constants above), as Header.Set would. Set
// canonicalises each name again and allocates a slice per value; here the
// values share one array, each value capped at length one so an Add to one
// header cannot overwrite the next.
func setCanonical(hdr http.Header, pairs ...string) {
	vals := make([]string, len(pairs)/2)
	for i := range vals {
		vals[i] = pairs[2*i+1]
		hdr[pairs[2*i]] = vals[i : i+1 : i+1]
	}
}

// writeFailure answers a wrong password or a filter reject: Auth-Status
// with the message and a JSON null body, as Nauthilus does for every service.
func (h *Handler) writeFailure(w http.ResponseWriter, req *Request, d *decision, status int, smtpCode bool) {
	hdr := w.Header()
	hdr.Set("Auth-Status", headerText(h.failureMessage(d), maxStatusText))
	if wait := h.authWait(req.AuthLoginAttempt); wait > 0 {
		hdr.Set("Auth-Wait", strconv.Itoa(wait))
	}
	if smtpCode && targetProtocol(req.Protocol) == "smtp" {
		hdr.Set("Auth-Error-Code", smtpFailCode)
	}
	hdr.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte("null"))
}

// tempfailText is the configured tempfail message.
func (h *Handler) tempfailText() string {
	return headerText(h.cfg.EffectiveTempfailMessage(), maxStatusText)
}
