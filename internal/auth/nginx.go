package auth

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

// resolveTimeout bounds resolving a selected backend's host name.
const resolveTimeout = 5 * time.Second

// maxNginxAccount bounds the Auth-User echoed to nginx (1024-byte answer).
const maxNginxAccount = 512

func (h *Handler) serveNginx(w http.ResponseWriter, r *http.Request) {
	h.serve(w, r, "nginx",
		func() (*Request, error) { return parseHeaderRequestWith(r, "nginx", h.headers) },
		func(ctx context.Context, w http.ResponseWriter, req *Request, d *decision, session string) {
			h.answerNginx(ctx, w, req, d, session)
		})
}

// answerNginx speaks nginx's auth_http: always HTTP 200 (nginx ignores the
// status), OK only together with an IP literal and a port.
func (h *Handler) answerNginx(ctx context.Context, w http.ResponseWriter, req *Request, d *decision, session string) {
	hdr := w.Header()
	setCommon(hdr, session)
	if d.outcome == outcomeOK {
		h.pickNginxBackend(ctx, d)
	}
	switch d.outcome {
	case outcomeOK:
		account := d.account
		if len(account) > maxNginxAccount || headerText(account, len(account)) != account {
			if account != req.Username {
				d.outcome, d.reason = outcomeTempfail, "account name unusable in an nginx answer"
				h.nginxTempfail(w, req, d)
				return
			}
			// nginx logs in with the name the client gave; echoing it is optional.
			account = ""
		}
		var buf [10]string
		pairs := successPairs(buf[:0], d, account)
		setCanonical(hdr, append(pairs, hdrAuthServer, d.server, hdrAuthPort, strconv.Itoa(d.port))...)
		w.WriteHeader(http.StatusOK)
		if h.hold != nil && h.hold.held() {
			h.hold.forget(h.hold.key(req))
		}
	case outcomeFail:
		h.writeFailure(w, req, d, http.StatusOK, true)
	default:
		h.nginxTempfail(w, req, d)
	}
}

// pickNginxBackend formats the settled selection for nginx: an IP literal
// (the one the backend's health check reached, else the host resolved now)
// and a port; a failure turns d into a tempfail.
func (h *Handler) pickNginxBackend(ctx context.Context, d *decision) {
	if d.sel == nil || d.sel.Backend == nil {
		d.outcome, d.reason = outcomeTempfail, "no backend selected"
		return
	}
	host, port := d.sel.Backend.Host, d.sel.Backend.Port
	if port < 1 || port > 65535 {
		d.outcome, d.reason = outcomeTempfail, "selected port out of range: "+strconv.Itoa(port)
		return
	}
	if ip := d.sel.Backend.Addr; ip.IsValid() {
		// The address the health check reached: a name with several
		// addresses, some dead, must not send nginx to one never checked.
		d.server, d.port = ip.Unmap().WithZone("").String(), port
		return
	}
	// Not checked yet, or not a configured target: resolve. The request's
	// context no longer ends with the connection (serve), so the lookup
	// gets its own bound.
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	ip, err := h.resolver.resolve(ctx, host)
	if err != nil {
		d.outcome, d.reason = outcomeTempfail, "resolving backend "+host+": "+err.Error()
		return
	}
	d.server, d.port = ip, port
}

func (h *Handler) nginxTempfail(w http.ResponseWriter, req *Request, d *decision) {
	hdr := w.Header()
	if h.nginxHold(hdr, req, d) {
		w.WriteHeader(http.StatusOK)
		return
	}
	msg := h.tempfailText()
	hdr.Set("Auth-Status", msg)
	if d.noBackend && req.AuthLoginAttempt <= h.cfg.EffectiveMaxWaitAttempts() {
		if wait := h.cfg.EffectiveNoBackendWait(); wait > 0 {
			hdr.Set("Auth-Wait", strconv.Itoa(wait))
		}
	}
	if targetProtocol(req.Protocol) == "smtp" {
		hdr.Set("Auth-Error-Code", smtpTempfailCode)
	}
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(msg))
}

// nginxHold answers WAIT when no backend is eligible and the login is
// still within auth.nginx.no_backend_hold: nginx keeps the client and asks
// again after Auth-Wait seconds instead of showing it an error. Only a
// missing backend is held; a refused password never reaches here.
func (h *Handler) nginxHold(hdr http.Header, req *Request, d *decision) bool {
	// A protocol without any configured backend has nothing to come back.
	// Past max_wait_attempts the session ends (the tempfail without
	// Auth-Wait): holding each later attempt would keep one session held
	// once more per login command.
	if h.hold == nil || !d.noBackend || (d.sel != nil && d.sel.Unmanaged) ||
		req.AuthLoginAttempt > h.cfg.EffectiveMaxWaitAttempts() {
		return false
	}
	v := h.hold.decide(h.hold.key(req), h.now())
	d.hold = v.String()
	h.metrics.hold.WithLabelValues(d.hold).Inc()
	if v != holdWait {
		return false
	}
	// The tempfail text stays in the log (d.reason); nginx reads nothing
	// but the status and the wait from a WAIT answer.
	hdr.Set("Auth-Status", "WAIT")
	hdr.Set("Auth-Wait", strconv.Itoa(h.cfg.EffectiveNoBackendWait()))
	return true
}
