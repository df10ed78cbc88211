package health

import (
	"slices"
	"testing"

	"github.com/backline/backline/internal/probe"
)

// Every TargetLookup lists a tcp target's secret send values, as the
// engine's index does: Lua redaction with a Static source (tests,
// offline runs) must withhold them too.
func TestReviewStaticTestPasswordsHaveTCPSecrets(t *testing.T) {
	tg := &probe.Target{Protocol: "tcp", Host: "127.0.0.1", Port: 6379, TCPSteps: []probe.TCPStep{
		{Send: []byte("AUTH ")}, {Send: []byte("pw-tcp-secret\r\n"), Secret: true},
	}}
	s := NewStatic(GroupMail, []*probe.Target{tg}, []bool{true})
	if got := s.TestPasswords(); !slices.Contains(got, "pw-tcp-secret") {
		t.Errorf("TestPasswords = %q", got)
	}
	ix := newTargetIndex([]string{"a"}, []*probe.Target{tg})
	if !slices.Contains(ix.passwords, "pw-tcp-secret") {
		t.Errorf("index passwords = %q", ix.passwords)
	}
}
