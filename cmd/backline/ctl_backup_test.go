package main

import (
	"strings"
	"testing"
)

// ctl show and ctl explain mark backup targets; primaries look as before.
func TestCtlShowsBackup(t *testing.T) {
	var out strings.Builder
	c := &ctlClient{stdout: &out}
	c.printBackend(ctlBackend{ID: "spare01", Protocol: "imap", Host: "10.0.9.11", Port: 143, Backup: true})
	if !strings.Contains(out.String(), "backup:") {
		t.Errorf("show without the backup row:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "of its protocol") {
		t.Errorf("a mail backup's row does not name the protocol:\n%s", out.String())
	}
	out.Reset()
	// A gateway origin fails over within its backend, not its protocol.
	c.printBackend(ctlBackend{ID: "api@10.0.9.12:8080", Group: "gateway:api", Protocol: "http", Host: "10.0.9.12", Port: 8080, Backup: true})
	if !strings.Contains(out.String(), "of its gateway backend") {
		t.Errorf("an origin backup's row:\n%s", out.String())
	}
	out.Reset()
	c.printBackend(ctlBackend{ID: "mbox01", Protocol: "imap", Host: "10.0.0.11", Port: 143})
	if strings.Contains(out.String(), "backup") {
		t.Errorf("a primary shows backup:\n%s", out.String())
	}
	out.Reset()
	c.printExplain("alice", ctlExplain{Status: "ok", Reason: `backup spare01 chosen: no primary "imap" backend is eligible (mbox01: unhealthy)`,
		Candidates: []ctlCandidate{{ID: "mbox01", Reason: "unhealthy"}, {ID: "spare01", Eligible: true, Chosen: true, Backup: true}}})
	if !strings.Contains(out.String(), "spare01 (backup)") || strings.Contains(out.String(), "mbox01 (backup)") ||
		!strings.Contains(out.String(), "reason: backup spare01 chosen") {
		t.Errorf("explain:\n%s", out.String())
	}
}
