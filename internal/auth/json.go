package auth

import (
	"context"
	"encoding/json"
	"net/http"
)

func (h *Handler) serveJSON(w http.ResponseWriter, r *http.Request) {
	h.serve(w, r, "json",
		func() (*Request, error) { return parseJSONRequest(w, r, h.maxBody) },
		func(_ context.Context, w http.ResponseWriter, req *Request, d *decision, session string) {
			h.answerJSON(w, req, d, session)
		})
}

// jsonSuccess is the success body; field order follows Nauthilus.
type jsonSuccess struct {
	OK              bool             `json:"ok"`
	AccountField    string           `json:"account_field"`
	TOTPSecretField string           `json:"totp_secret_field"`
	Backend         int              `json:"backend"`
	Attributes      map[string][]any `json:"attributes"`
}

func (h *Handler) answerJSON(w http.ResponseWriter, req *Request, d *decision, session string) {
	hdr := w.Header()
	setCommon(hdr, session)
	switch d.outcome {
	case outcomeOK:
		addBackendAttributes(d)
		setSuccess(hdr, d, d.account)
		attrs := map[string][]any{}
		for _, name := range sortedAttributeNames(d.attributes) {
			attrs[name] = d.attributes[name]
		}
		body, err := json.Marshal(jsonSuccess{OK: true, AccountField: d.accountField, Backend: d.backend, Attributes: attrs})
		if err != nil {
			d.outcome, d.reason = outcomeTempfail, "encoding attributes: "+err.Error()
			hdr.Del("Auth-Status")
			hdr.Del("Auth-User")
			h.jsonTempfail(w)
			return
		}
		hdr.Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
	case outcomeFail:
		h.writeFailure(w, req, d, http.StatusForbidden, false)
	default:
		h.jsonTempfail(w)
	}
}

func (h *Handler) jsonTempfail(w http.ResponseWriter) {
	msg := h.tempfailText()
	w.Header().Set("Auth-Status", msg)
	body, _ := json.Marshal(map[string]string{"error": msg})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = w.Write(body)
}
