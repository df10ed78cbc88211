package server

import (
	"net/http"
	"time"
)

// readiness is implemented by *health.Engine: every group finished its
// first round.
type readiness interface{ Ready() bool }

type readyzBody struct {
	Status string `json:"status"`
}

// readyz is for a load balancer in front of several instances: 503
// "starting" until the first probe round has finished (before that the
// snapshot shows configured initial states, not verdicts), 503 "stopping"
// once shutdown began (server.shutdown_delay), else 200 "ready". Unlike
// /healthz (liveness) it may fail while the process is fine.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	switch {
	case s.stopping.Load():
		writeJSON(w, http.StatusServiceUnavailable, readyzBody{Status: "stopping"})
	case !s.firstRoundDone():
		writeJSON(w, http.StatusServiceUnavailable, readyzBody{Status: "starting"})
	default:
		writeJSON(w, http.StatusOK, readyzBody{Status: "ready"})
	}
}

func (s *Server) firstRoundDone() bool {
	if rd, ok := s.opts.Snapshot.(readiness); ok {
		return rd.Ready()
	}
	// Admin changes publish snapshots too (Round counts them), but only a
	// finished probe round stamps Taken.
	snap := s.snapshot()
	return snap == nil || !snap.Taken.IsZero() // no health source: nothing to wait for
}

// drainBeforeShutdown turns /readyz to "stopping" and keeps serving for
// Options.ShutdownDelay, so a load balancer takes the instance out before
// its listener closes. A second signal does not shorten it; the delay is
// bounded by config (0..60 s).
func (s *Server) drainBeforeShutdown() {
	s.stopping.Store(true)
	d := s.opts.ShutdownDelay
	if d <= 0 {
		return
	}
	s.log.Info("shutting down: /readyz answers 503 before the listener closes", "shutdown_delay", d)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.skipDelay: // nil outside tests: never fires
	}
}
