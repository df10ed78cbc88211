package health

import (
	"slices"
	"testing"
)

// servingBackend is a snapshot entry for Serving: eligible or not (with a
// reason), primary or backup.
func servingBackend(id, group, proto string, eligible, backup bool) Backend {
	b := Backend{ID: id, Group: group, Eligible: eligible, Backup: backup, Weight: 1,
		Target: &TargetInfo{Name: id, Protocol: proto, Host: "10.0.0.1", Port: 143}}
	if !eligible {
		b.Reason = ReasonUnhealthy
	}
	return b
}

func servingIDs(bs []Backend) []string {
	ids := make([]string, 0, len(bs))
	for _, b := range bs {
		ids = append(ids, b.ID)
	}
	return ids
}

// TestServing: backups are in service only while no primary of their
// group and protocol is eligible; ineligible backends never are.
func TestServing(t *testing.T) {
	const gw = "gateway:api"
	tests := []struct {
		name     string
		backends []Backend
		protocol string
		want     []string
	}{
		{"primary up hides the backups", []Backend{
			servingBackend("spare", GroupMail, "imap", true, true),
			servingBackend("p1", GroupMail, "imap", false, false),
			servingBackend("p2", GroupMail, "imap", true, false),
		}, "", []string{"p2"}},
		{"every primary down: the eligible backups", []Backend{
			servingBackend("p1", GroupMail, "imap", false, false),
			servingBackend("s1", GroupMail, "imap", true, true),
			servingBackend("s2", GroupMail, "imap", false, true),
			servingBackend("s3", GroupMail, "imap", true, true),
		}, "", []string{"s1", "s3"}},
		{"every target a backup: they serve", []Backend{
			servingBackend("s1", GroupMail, "imap", true, true),
			servingBackend("s2", GroupMail, "imap", true, true),
		}, "", []string{"s1", "s2"}},
		{"per protocol: an smtp primary does not hide an imap backup", []Backend{
			servingBackend("imap-p", GroupMail, "imap", false, false),
			servingBackend("imap-s", GroupMail, "imap", true, true),
			servingBackend("smtp-p", GroupMail, "smtp", true, false),
			servingBackend("smtp-s", GroupMail, "smtp", true, true),
		}, "", []string{"imap-s", "smtp-p"}},
		{"one protocol asked", []Backend{
			servingBackend("imap-p", GroupMail, "imap", false, false),
			servingBackend("imap-s", GroupMail, "imap", true, true),
			servingBackend("smtp-p", GroupMail, "smtp", true, false),
		}, "imap", []string{"imap-s"}},
		{"another group's primary does not count", []Backend{
			servingBackend("mail-s", GroupMail, "http", true, true),
			servingBackend("gw-p", gw, "http", true, false),
		}, "", []string{"mail-s"}},
		{"nothing eligible", []Backend{
			servingBackend("p", GroupMail, "imap", false, false),
			servingBackend("s", GroupMail, "imap", false, true),
		}, "", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := &Snapshot{Backends: tt.backends}
			if got := servingIDs(snap.Serving(GroupMail, tt.protocol)); !slices.Equal(got, tt.want) {
				t.Errorf("Serving = %v, want %v", got, tt.want)
			}
		})
	}
	var nilSnap *Snapshot
	if got := nilSnap.Serving(GroupMail, ""); got != nil {
		t.Errorf("nil snapshot: %v", got)
	}
}

// TestServingFollowsEligibility: a drained primary is out of service like
// an unhealthy one, so the backup serves; Serving reads the snapshot's
// eligibility rather than health alone.
func TestServingFollowsEligibility(t *testing.T) {
	g := mailGroup(mailTarget("p", 1, false), mailTarget("s", 2, false))
	g.Backups = []bool{false, true}
	e, err := New([]Group{g}, &scriptChecker{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := servingIDs(e.Snapshot().Serving(GroupMail, "")); !slices.Equal(got, []string{"p"}) {
		t.Fatalf("primary ready: %v", got)
	}
	if _, err := e.SetAdmin("p", AdminChange{State: ptr(AdminDrain)}); err != nil {
		t.Fatal(err)
	}
	if got := servingIDs(e.Snapshot().Serving(GroupMail, "")); !slices.Equal(got, []string{"s"}) {
		t.Fatalf("primary drained: %v", got)
	}
}
