package probe

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"time"
)

// Prober is the Checker every caller shares. The zero value works; Logger
// nil means no logging.
type Prober struct {
	Logger *slog.Logger
	Dialer net.Dialer
	// DialContext, when set, replaces Dialer (tests inject dial errors);
	// it gets a context bounded by connect_timeout.
	DialContext func(ctx context.Context, network, address string) (net.Conn, error)
}

var _ Checker = (*Prober)(nil)

// deepChecks maps a protocol to its deep phase. Each function owns the
// conversation from the greeting to the best-effort logout.
var deepChecks = map[string]func(s *session) error{
	"imap":  checkIMAP,
	"sieve": checkSieve,
	"http":  checkHTTP,
	"pop3":  checkPOP3,
	"smtp":  checkSMTP,
	"lmtp":  checkLMTP,
	"tcp":   checkTCP,
}

// Check runs the connect phase and, when phase is PhaseDeep and the target
// has deep_check, the deep phase on the same connection. It never takes
// longer than connect+TLS+deep timeouts (STARTTLS handshakes included in
// the deep one), and ends early when ctx does.
func (p *Prober) Check(ctx context.Context, t *Target, phase Phase, opts Options) Result {
	start := time.Now()
	res := Result{Phase: PhaseConnect}
	deep := phase == PhaseDeep && t != nil && t.DeepCheck
	if deep {
		res.Phase = PhaseDeep
	}
	refused, err := clientCertFailure(t, &res, p.run(ctx, t, deep, &res, opts))
	if refused && t.implicitTLS() {
		// The implicit handshake's verdict, even when it came with the
		// greeting or the HTTP response of a deep check (TLS 1.3): the
		// connect phase failed, as a connect-only check says.
		res.FailedPhase = PhaseConnect
	}
	end := time.Now()
	if !res.verdictAt.IsZero() {
		end = res.verdictAt // the goodbye after the verdict is not the server's latency
	}
	res.Duration = end.Sub(start)
	res.Err = err
	res.OK = err == nil
	res.Reason = Classify(err)
	if err != nil && res.FailedPhase == "" {
		res.FailedPhase = res.Phase
	}
	p.logMechanism(err, res.Phase)
	return res
}

func (p *Prober) run(ctx context.Context, t *Target, deep bool, res *Result, opts Options) error {
	if t == nil {
		return configErr("no target")
	}
	check, known := deepChecks[t.Protocol]
	if !known {
		return configErr("no health check for protocol %q", t.Protocol)
	}
	if (t.Protocol == "http" || t.Protocol == "tcp") && t.TLSMode == TLSStartTLS {
		return configErr("%s has no STARTTLS; use tls_mode: implicit", t.Protocol)
	}
	greet, polite := greetingChecks[t.Protocol]
	polite = polite && !deep && t.ConnectGreeting
	start := time.Now()
	// A polite check reads the greeting anyway, which carries the TLS 1.3
	// verdict on a client certificate as a deep check's does.
	conn, stop, err := p.connect(ctx, t, res, !deep && !polite, opts.Transcript)
	if err != nil {
		res.FailedPhase = PhaseConnect
		return err
	}
	defer stop()
	if !deep && !polite {
		conn.Close()
		return nil
	}
	var s *session
	if polite {
		s = newSessionUntil(conn, t, res, opts, connectDeadline(t, start))
		check = greet
	} else {
		s = newSession(conn, t, res, opts) // sets the deep deadline
	}
	err = check(s)
	if err != nil && deep && greet != nil && t.ConnectGreeting && !hasStep(res, "greeting") {
		// The connect phase reads the greeting (connect_check: greeting),
		// so a deep check that failed on it failed there too: a combined
		// round must record the connect phase as a connect-only check of
		// the same server would.
		res.FailedPhase = PhaseConnect
	}
	// s.conn is the outermost layer (TLS after STARTTLS): closing it sends
	// close_notify, which keeps server logs free of "unexpected EOF".
	s.conn.Close()
	return cancelled(ctx, err)
}

func hasStep(res *Result, name string) bool {
	for _, st := range res.Steps {
		if st.Name == name {
			return true
		}
	}
	return false
}

// logMechanism writes seed 004's ERROR line for a mechanism mismatch.
func (p *Prober) logMechanism(err error, phase Phase) {
	var me *MechanismUnavailableError
	if p.Logger == nil || !errors.As(err, &me) {
		return
	}
	p.Logger.Error("Backend health-check auth mechanism unavailable",
		slog.String("protocol", me.Protocol),
		slog.String("host", me.Host),
		slog.Int("port", me.Port),
		slog.String("configured_auth_mechanism", me.Configured),
		slog.String("advertised_auth_mechanisms", strings.Join(me.Advertised, ",")),
		slog.String("auth_capability_source", me.Source),
		slog.Bool("sasl_ir", me.SASLIR),
		slog.String("health_check_phase", string(phase)),
	)
}
