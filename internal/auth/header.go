package auth

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"golang.org/x/net/http/httpguts"
)

func (h *Handler) serveHeader(w http.ResponseWriter, r *http.Request) {
	h.serve(w, r, "header",
		func() (*Request, error) { return parseHeaderRequestWith(r, "header", h.headers) },
		func(_ context.Context, w http.ResponseWriter, req *Request, d *decision, session string) {
			h.answerHeader(w, req, d, session)
		})
}

// answerHeader returns the attributes as X-Nauthilus-<Name> headers:
// 200 OK, 403 failure, 500 tempfail.
func (h *Handler) answerHeader(w http.ResponseWriter, req *Request, d *decision, session string) {
	hdr := w.Header()
	setCommon(hdr, session)
	switch d.outcome {
	case outcomeOK:
		addBackendAttributes(d)
		setSuccess(hdr, d, d.account)
		for _, name := range sortedAttributeNames(d.attributes) {
			if !httpguts.ValidHeaderFieldName(name) {
				continue
			}
			values := d.attributes[name]
			if len(values) == 0 {
				continue
			}
			sep := ","
			if name == "dn" {
				sep = ";"
			}
			parts := make([]string, len(values))
			for i, v := range values {
				parts[i] = fmt.Sprintf("%v", v)
			}
			hdr.Set("X-Nauthilus-"+name, headerText(strings.Join(parts, sep), 8<<10))
		}
		w.WriteHeader(http.StatusOK)
	case outcomeFail:
		h.writeFailure(w, req, d, http.StatusForbidden, false)
	default:
		msg := h.tempfailText()
		hdr.Set("Auth-Status", msg)
		hdr.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(msg))
	}
}

// sortedAttributeNames lists the attributes that may leave the process:
// secrets (passwords, tokens, TOTP material) never do.
func sortedAttributeNames(a Attributes) []string {
	names := make([]string, 0, len(a))
	for k := range a {
		if !sensitiveAttribute(k) {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	return names
}

func sensitiveAttribute(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "password", "user_password", "userpassword", "token", "bind_pw", "pass", "secret":
		return true
	}
	for _, part := range []string{"totp_secret", "recovery_code", "password"} {
		if strings.Contains(n, part) {
			return true
		}
	}
	return false
}
