package lua

import (
	"errors"
	"net"
	"strconv"
	"strings"

	"github.com/backline/backline/internal/health"

	glua "github.com/yuin/gopher-lua"
)

// maxReportReason bounds the reason a script gives report_failure; it only
// goes to one log line.
const maxReportReason = 128

// reportFailure is backline's own addition to nauthilus_backend (Nauthilus
// has no function with this meaning; the name is the one
// shared/spec/peers-feature-matrix.md proposes):
// report_failure(host, port[, reason]) says a login failed on that mail
// backend, and asks the health engine to probe it now instead of at its
// next interval. It does not mark the backend down: the probe's result
// goes through the gates like any other. Scripts are untrusted, so the
// engine starts at most one such probe per backend per second and drops
// the rest (health.ProbeNow).
//
// Returns true when a probe was started or one is already under way,
// false when the request was dropped (one ran less than a second ago),
// and nil plus an error text when no probed mail backend has that address.
// Arguments of the wrong type raise, as select_backend_server's do.
func reportFailure(r *scriptRun, L *glua.LState) int {
	host, port, reason := reportFailureArgs(L)
	ids, errText := r.reportTargets(host, port)
	if errText != "" {
		return pushNilErr(L, errText)
	}
	rc, ok := r.engine.health.(health.Rechecker)
	if !ok {
		return pushNilErr(L, "report_failure: no health checks run here")
	}
	reason = "Lua filter " + r.script.name + ": " + cleanReason(r.redact(reason))
	started := false
	var failed error
	for _, id := range ids {
		_, _, err := rc.ProbeNow(id, health.RecheckLua, reason)
		switch {
		case err == nil:
			started = true
		case !errors.Is(err, health.ErrRecheckLimited):
			failed = err
		}
	}
	if !started && failed != nil {
		return pushNilErr(L, "report_failure: "+failed.Error())
	}
	L.Push(glua.LBool(started))
	return 1
}

// reportFailureDry checks the arguments and the address as a real call
// does, and probes nothing (explain must not touch the backends).
func reportFailureDry(r *scriptRun, L *glua.LState) int {
	host, port, _ := reportFailureArgs(L)
	if _, errText := r.reportTargets(host, port); errText != "" {
		return pushNilErr(L, errText)
	}
	L.Push(glua.LTrue)
	return 1
}

func reportFailureArgs(L *glua.LState) (host string, port int, reason string) {
	const msg = "bad argument to report_failure (expected host (string), port (number) and an optional reason (string))"
	h, ok := L.Get(1).(glua.LString)
	port, isInt := luaInt(L.Get(2))
	if !ok || !isInt || L.GetTop() > 3 {
		L.RaiseError(msg)
	}
	switch v := L.Get(3).(type) {
	case glua.LString:
		reason = string(v)
	case *glua.LNilType:
	default:
		L.RaiseError(msg)
	}
	if port < 1 || port > 65535 {
		L.RaiseError("report_failure: port must be between 1 and 65535, got %d", port)
	}
	return string(h), port, reason
}

// cleanReason keeps a script's reason printable and short for the log.
func cleanReason(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, " "))
	if len(s) > maxReportReason {
		s = strings.ToValidUTF8(s[:maxReportReason], "") + "..."
	}
	return s
}

// reportTargets are the IDs of the mail backends at host:port, from the
// run's snapshot (the same list get_backend_servers_status shows). Hosts
// compare as the scripts see them, case-insensitively for names.
func (r *scriptRun) reportTargets(host string, port int) (ids []string, errText string) {
	if snap := r.snapshot(); snap != nil {
		for _, b := range snap.Backends {
			if b.Group == health.GroupMail && b.Target != nil && b.Target.Port == port && strings.EqualFold(b.Target.Host, host) {
				ids = append(ids, b.ID)
			}
		}
	}
	if len(ids) == 0 {
		return nil, "report_failure: no mail backend at " + net.JoinHostPort(clipHost(host), strconv.Itoa(port))
	}
	return ids, ""
}

// clipHost keeps a script's host in an error short and printable.
func clipHost(h string) string {
	h = cleanReason(h)
	if len(h) > 64 {
		return strings.ToValidUTF8(h[:64], "") + "..."
	}
	return h
}
