package main

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// ctlRecheck is the answer of POST /api/v1/backends/{id}/recheck.
type ctlRecheck struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Joined bool   `json:"joined"`
	Probe  *struct {
		Phase     string  `json:"phase"`
		OK        bool    `json:"ok"`
		Reason    string  `json:"reason"`
		Error     string  `json:"error"`
		LatencyMS float64 `json:"latency_ms"`
	} `json:"probe"`
	Backend *ctlBackend `json:"backend"`
}

// recheckWait is how long the daemon waits for the probe: the request's
// --timeout less a margin for the answer to arrive, so a slow probe is
// reported as running rather than as a timeout.
func recheckWait(timeout time.Duration) time.Duration {
	wait := timeout - 2*time.Second
	if wait < timeout/2 {
		wait = timeout / 2
	}
	return min(wait.Truncate(time.Millisecond), time.Minute)
}

// recheck probes one backend now and prints what the probe found and the
// backend's state after it. Exit 0 only when the probe succeeded: a failed,
// inconclusive, cancelled or unfinished probe is exit 1, so
// `ctl recheck X && ctl ready X` returns a backend only when it answers.
func (c *ctlClient) recheck(ctx context.Context, o *ctlOptions, id string) error {
	path := ctlBackendsPath + "/" + ctlEscapeID(id) + "/recheck?wait=" + recheckWait(o.timeout).String()
	var r ctlRecheck
	raw, err := c.call(ctx, http.MethodPost, path, nil, &r, ctlMaxResponse)
	if err != nil {
		return err
	}
	if o.json {
		if err := c.printRaw(raw, nil); err != nil {
			return err
		}
		if r.Status != "done" || r.Probe == nil || !r.Probe.OK {
			return errCtlReported
		}
		return nil
	}
	name := ctlClean(id)
	switch {
	case r.Status == "running":
		fmt.Fprintf(c.stderr, "backline ctl: recheck: %s: the probe is still running; see `backline ctl show %s` in a moment\n", name, name)
		return errCtlReported
	case r.Status == "cancelled" || r.Probe == nil:
		fmt.Fprintf(c.stderr, "backline ctl: recheck: %s: no probe ran (%s: the daemon reloaded, stopped or its checks were paused)\n", name, ctlCell(r.Status))
		return errCtlReported
	}
	p := r.Probe
	line := name + ": probe " + ctlCell(p.Phase) + " "
	if p.OK {
		line += "ok in " + ctlNumber(p.LatencyMS) + " ms"
	} else {
		line += "failed: " + ctlCell(p.Reason)
		if p.Error != "" {
			line += ": " + ctlClean(c.redact(p.Error))
		}
	}
	if r.Status == "inconclusive" {
		line += " (inconclusive: this host ran out of sockets or the daemon stalled; state kept)"
	}
	if r.Joined {
		line += " (shared with a request already under way)"
	}
	if b := r.Backend; b != nil {
		line += "; now " + ctlHealth(*b) + ", eligible " + ctlEligible(b.Eligible, b.Reason)
	}
	fmt.Fprintln(c.stdout, line)
	if r.Status != "done" || !p.OK {
		return errCtlReported
	}
	return nil
}
