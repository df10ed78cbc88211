package health

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/backline/backline/internal/probe"
)

// A shared (probe lease) deep result and this instance's own deep result
// begin the same outcome and keep the same of the result: reason and
// error text of a failure, the steps, the SASL mechanism, and the
// certificate's expiry, which a failed check without one leaves as it
// was (the expiry metric does not vanish while a backend is down).
func TestReviewSharedDeepRecordsAsOwn(t *testing.T) {
	g := &Group{Name: "mail", FailureThreshold: 2, RecoveryThreshold: 1, InitialHealthy: true}
	target := func() *probe.Target {
		return &probe.Target{Name: "imap", Protocol: "imap", Host: "127.0.0.1", Port: 993, DeepCheck: true}
	}
	expiry := time.Unix(2e9, 0)
	results := []probe.Result{
		{Phase: probe.PhaseDeep, OK: true, Duration: time.Millisecond, CertNotAfter: expiry, Mechanism: "PLAIN",
			Steps: []probe.Step{{Name: "connect", Duration: 1}, {Name: "auth", Duration: 2}}},
		{Phase: probe.PhaseDeep, OK: false, Reason: probe.ReasonAuth, Err: errors.New("authentication failed"),
			Steps: []probe.Step{{Name: "connect", Duration: 3}}},
		{Phase: probe.PhaseDeep, OK: false, Err: errors.New("check failed somehow")},
		{Phase: probe.PhaseDeep, OK: false},
		{Phase: probe.PhaseDeep, OK: true, Mechanism: "LOGIN"},
	}
	own := newTargetState(g, target(), time.Unix(0, 0))
	shared := newTargetState(g, target(), time.Unix(0, 0))
	show := func(s *targetState, out outcome) string {
		return fmt.Sprintf("ok %v reason %q err %q steps %v cert %v mech %q", out.ok, out.reason, out.errText,
			s.steps, s.certNotAfter.Unix(), s.mechanism)
	}
	for i := range results {
		now := time.Unix(int64(10*(i+1)), 0)
		r1, r2 := results[i], results[i]
		a := show(own, own.record(probe.PhaseDeep, &r1, now))
		b := show(shared, shared.recordSharedDeep(&r2, now))
		if a != b {
			t.Errorf("result %d:\nown    %s\nshared %s", i, a, b)
		}
		if !shared.certNotAfter.Equal(expiry) {
			t.Errorf("result %d: certificate expiry %v, want it kept at %v", i, shared.certNotAfter, expiry)
		}
		if want := results[i].Steps; !slices.Equal(shared.steps, want) {
			t.Errorf("result %d: steps %v, want %v", i, shared.steps, want)
		}
	}
	if own.mechanism != "LOGIN" || shared.mechanism != "LOGIN" {
		t.Errorf("mechanism own %q shared %q, want the last one given", own.mechanism, shared.mechanism)
	}
}
