package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
)

// backendLogin checks a password by logging in to a healthy mail backend
// with it: the mail servers stay the only password store.
type backendLogin struct {
	label    string
	protocol string // empty: the request's
	health   health.Source
	checker  probe.Checker
}

var errNoBackendForLogin = errors.New("no healthy backend to check the password against")

func (b *backendLogin) name() string { return b.label }

// errCredentialLineBreak keeps a credential with CR, LF or NUL off the
// backend's command line. The endpoints refuse such requests already; this
// is the second line of defence for any other caller.
var errCredentialLineBreak = errors.New("user name or password contains CR, LF or NUL; not sent to a backend")

func (b *backendLogin) check(ctx context.Context, req *Request) (passResult, error) {
	// Without a password a mail server cannot be asked whether a user
	// exists (a LOGIN without one proves nothing): for a userdb lookup
	// (?mode=no-auth) this database knows nobody, and says so honestly
	// rather than vouching for every name.
	if req.NoAuth {
		return passResult{DB: b.label, Backend: backendRemote}, nil
	}
	if strings.ContainsAny(req.Username, lineBreakChars) || strings.ContainsAny(req.Password, lineBreakChars) {
		return passResult{}, errCredentialLineBreak
	}
	proto := b.protocol
	if proto == "" {
		proto = targetProtocol(req.Protocol)
	}
	snap := req.snap
	if snap == nil {
		snap = b.health.Snapshot()
	}
	// Eligible, not merely healthy: a drained backend takes no new logins,
	// and this is one. Serving, not Eligible: a backup takes one only
	// while no primary of the protocol is eligible, even when it is
	// configured first.
	eligible := snap.Serving(health.GroupMail, proto)
	if len(eligible) == 0 {
		return passResult{}, fmt.Errorf("%w (protocol %q)", errNoBackendForLogin, proto)
	}
	// Snapshots hold no secrets or TLS settings: the probe target comes
	// from the engine by ID.
	lookup, ok := b.health.(health.TargetLookup)
	if !ok {
		return passResult{}, errors.New("backend login: the health source cannot look up probe targets")
	}
	pt, ok := lookup.ProbeTarget(eligible[0].ID)
	if !ok {
		return passResult{}, fmt.Errorf("%w (protocol %q): backend %q is gone", errNoBackendForLogin, proto, eligible[0].ID)
	}
	t := *pt
	t.Username, t.Password = req.Username, req.Password
	t.Mechanism = config.MechAuto
	t.DeepCheck = true
	res := b.checker.Check(ctx, &t, probe.PhaseDeep, probe.Options{})
	out := passResult{DB: b.label, Backend: backendRemote, AccountField: "account"}
	switch {
	case res.OK:
		out.UserFound, out.Authenticated, out.Account = true, true, req.Username
		return out, nil
	case res.Reason == probe.ReasonAuth:
		// A mail server does not tell an unknown user from a wrong
		// password; the backend decides either way.
		out.UserFound = true
		return out, nil
	}
	// The probe's error names the server and step, never the credentials.
	if res.Err != nil {
		return passResult{}, fmt.Errorf("login to %s failed (%s): %v", t.Address(), res.Reason, res.Err)
	}
	return passResult{}, fmt.Errorf("login to %s failed (%s)", t.Address(), res.Reason)
}

// targetProtocol maps a request's Auth-Protocol to the health-check
// protocol serving it (nginx calls submission "smtp").
func targetProtocol(p string) string {
	switch p {
	case "submission", "submissions", "smtps":
		return config.ProtoSMTP
	case "imaps":
		return config.ProtoIMAP
	case "pop3s":
		return config.ProtoPOP3
	case "managesieve":
		return config.ProtoSieve
	}
	return p
}
