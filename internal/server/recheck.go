package server

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/backline/backline/internal/health"
)

const (
	recheckSuffix = "/recheck"
	// defaultRecheckWait stays under ctl's default --timeout (10s), so a
	// slow probe is answered "running" rather than cut by the client.
	defaultRecheckWait = 8 * time.Second
	maxRecheckWait     = time.Minute
)

// recheckBody answers POST /api/v1/backends/{id}/recheck.
type recheckBody struct {
	ID string `json:"id"`
	// Status: done (the probe's result went through the gates),
	// inconclusive (it says nothing about the backend: this host ran out
	// of sockets or this process stalled; the state was kept), cancelled
	// (no probe ran: reload, shutdown, checks paused meanwhile) or running
	// (the wait ended first; GET the backend later).
	Status string `json:"status"`
	// Joined: an earlier request's probe had not finished; this one
	// shares it.
	Joined    bool         `json:"joined"`
	Requested time.Time    `json:"requested"`
	Probe     *recheckView `json:"probe,omitempty"`
	Backend   *backendView `json:"backend,omitempty"`
}

type recheckView struct {
	Phase     string    `json:"phase"`
	OK        bool      `json:"ok"`
	Reason    string    `json:"reason,omitempty"`
	Error     string    `json:"error,omitempty"`
	LatencyMS float64   `json:"latency_ms"`
	Finished  time.Time `json:"finished"`
}

// serveRecheck handles POST /api/v1/backends/{id}/recheck before the mux
// sees it, for the reason serveAdmin gives (IDs contain "//"). It probes
// the backend now and answers with the result once the probe ended, or
// 202 "running" after ?wait= (default 8s, 0s..60s).
func (s *Server) serveRecheck(w http.ResponseWriter, r *http.Request) bool {
	raw := r.URL.EscapedPath()
	if !strings.HasPrefix(raw, backendsPrefix) || !strings.HasSuffix(raw, recheckSuffix) {
		return false
	}
	if s.knownBackend(raw) {
		return false // a backend whose ID itself ends in /recheck: the plain view
	}
	escaped := strings.TrimSuffix(strings.TrimPrefix(raw, backendsPrefix), recheckSuffix)
	id, err := url.PathUnescape(escaped)
	if err != nil || id == "" {
		writeError(w, http.StatusBadRequest, "malformed backend id in the path")
		return true
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
		return true
	}
	rc, ok := s.opts.Snapshot.(health.Rechecker)
	if !ok {
		writeError(w, http.StatusServiceUnavailable, "probing on request is not available")
		return true
	}
	wait, err := parseRecheckWait(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return true
	}
	req, joined, err := rc.ProbeNow(id, health.RecheckAPI, "API request by "+apiUser(r))
	if err != nil {
		writeRecheckError(w, id, err)
		return true
	}
	body := recheckBody{ID: id, Status: "running", Joined: joined, Requested: req.Requested.UTC()}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-req.Done():
	case <-timer.C:
		writeJSON(w, http.StatusAccepted, body)
		return true
	case <-r.Context().Done():
		return true // the client left; the probe goes on
	}
	res := req.Result()
	body.Status = string(res.Status)
	if res.Status != health.RecheckCancelled {
		body.Probe = &recheckView{Phase: string(res.Phase), OK: res.OK, Reason: string(res.Reason),
			Error: res.Error, LatencyMS: millis(res.Latency), Finished: res.Finished.UTC()}
	}
	if snap := s.snapshot(); snap != nil {
		for _, b := range snap.Backends {
			if b.ID == id {
				v := viewBackendIn(snap, b, nil, time.Now())
				body.Backend = &v
				break
			}
		}
	}
	writeJSON(w, http.StatusOK, body)
	return true
}

func parseRecheckWait(q url.Values) (time.Duration, error) {
	if !q.Has("wait") {
		return defaultRecheckWait, nil
	}
	d, err := time.ParseDuration(q.Get("wait"))
	if err != nil || d < 0 || d > maxRecheckWait {
		return 0, errors.New(`wait must be a duration 0s..60s, like "5s"`)
	}
	return d, nil
}

func writeRecheckError(w http.ResponseWriter, id string, err error) {
	switch {
	case errors.Is(err, health.ErrUnknownBackend):
		writeError(w, http.StatusNotFound, "no backend with id "+strconv.Quote(clipText(id)))
	case errors.Is(err, health.ErrNoActiveChecks), errors.Is(err, health.ErrChecksPaused):
		writeError(w, http.StatusConflict, err.Error())
	case errors.Is(err, health.ErrRecheckLimited):
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, err.Error())
	case errors.Is(err, health.ErrRecheckStopped):
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, err.Error())
	default:
		writeError(w, http.StatusInternalServerError, "probe request failed")
	}
}
