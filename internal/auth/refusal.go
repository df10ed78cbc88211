package auth

import (
	"encoding/json"
	"errors"
	"net/http"
)

// Refusals: what each endpoint answers for a request refused before the
// password check (requestError). Every answer carries the endpoint's
// status field, Auth-Status, because the clients read it first:
//
//   - nginx ignores the HTTP status and treats an answer without
//     Auth-Status as an error of the auth server ("auth http server sent
//     invalid response"), giving the client a generic temporary error;
//   - Nauthilus's documented Dovecot Lua passdb concatenates Auth-Status
//     (and X-Nauthilus-Session) into a log line for every answer, so a
//     missing one makes the script itself fail; it maps 200 to OK, 403 to
//     a wrong password (or an unknown user for a userdb lookup) and
//     anything else to an internal failure.
//
// So a user name or password the end user typed that cannot log in (empty,
// a line break, oversized) is a failed login on every endpoint, exactly as
// a wrong password: Dovecot says "authentication failed", not "temporary
// failure", and nginx lets the client try again after Auth-Wait. A request
// that is malformed (the proxy or script sent something broken, or someone
// is probing the endpoint) is refused with its reason as Auth-Status: 400
// on header and json with {"error": reason} (Nauthilus documents 400 with
// that body), 200 on nginx (nginx's protocol: the status is ignored, and
// every nginx answer is 200), where nginx shows the reason to the client
// and ends the session. A reason never quotes a credential (reasonText,
// quoteValue, jsonBodyError).

// answerRefusedCredentials answers a refused user name or password as the
// endpoint answers a wrong password (writeFailure): the configured failure
// message, Auth-Wait by the login attempt, nginx SMTP's 535 5.7.8, 403 on
// header and json. The reason is only logged.
func (h *Handler) answerRefusedCredentials(w http.ResponseWriter, endpoint string, req *Request, d *decision, session string) {
	setCommon(w.Header(), session)
	status, smtpCode := http.StatusForbidden, false
	if endpoint == "nginx" {
		status, smtpCode = http.StatusOK, true
	}
	h.writeFailure(w, req, d, status, smtpCode)
}

// answerInvalid refuses a malformed request and returns the reason for the
// log: Auth-Status and the body carry the reason; nginx SMTP also gets
// 451 4.3.0 (the fault is on the server's side, not the client's).
func (h *Handler) answerInvalid(w http.ResponseWriter, r *http.Request, endpoint, session string, err error) string {
	msg := "invalid request"
	var re *requestError
	if errors.As(err, &re) {
		msg = re.msg
	}
	msg = reasonText(msg)
	hdr := w.Header()
	setCommon(hdr, session)
	hdr.Set("Auth-Status", headerText(msg, maxStatusText))
	if endpoint == "nginx" {
		if targetProtocol(h.headers.protocol().get(r.Header)) == "smtp" {
			hdr.Set("Auth-Error-Code", smtpTempfailCode)
		}
		hdr.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(msg + "\n"))
		return msg
	}
	body, _ := json.Marshal(map[string]string{"error": msg})
	hdr.Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write(append(body, '\n'))
	return msg
}

// loggableRefused is req as the request log line may show it after its
// user name was refused: a name over the limit or with control characters
// is quoted and cut (quoteValue), so a refusal cannot fill the log.
func loggableRefused(req *Request) *Request {
	if len(req.Username) <= maxUsernameBytes && !hasControl(req.Username) {
		return req
	}
	cp := *req
	cp.Username = quoteValue(req.Username)
	return &cp
}
