package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTargetBackup(t *testing.T) {
	if tg := firstTarget(t, imapTarget("backup: true")); !tg.Backup {
		t.Error("backup: true not read")
	}
	if tg := firstTarget(t, imapTarget("")); tg.Backup {
		t.Error("a target is a backup by default")
	}
	if tg := firstTarget(t, imapTarget("backup: ~")); tg.Backup {
		t.Error("backup: ~ (empty) must keep the default")
	}
	// Like every boolean key, backup takes what strconv.ParseBool takes
	// (case-insensitive): 1 is true, as for tls or deep_check.
	if tg := firstTarget(t, imapTarget("backup: 1")); !tg.Backup {
		t.Error("backup: 1 not read as true")
	}
}

func TestTargetBackupHostile(t *testing.T) {
	for _, tc := range []struct{ value, want string }{
		{`"yes"`, `must be true or false, got "yes"`},
		{"yes", `must be true or false, got "yes"`},
		{"2", `must be true or false, got "2"`},
		{`""`, `must be true or false, got ""`},
		{`"true\n"`, `must be true or false, got "true\n"`},
		{"[true]", "must be a single value"},
		{"{a: 1}", "must be a single value"},
	} {
		got := parseErrors(t, imapTarget("backup: "+tc.value))
		if len(got) != 1 || !startsWith(got[0], tp+"backup (line 9): ") {
			t.Errorf("backup: %s: errors %q", tc.value, got)
		}
	}
}

func startsWith(s, prefix string) bool { return len(s) >= len(prefix) && s[:len(prefix)] == prefix }

func TestOriginBackup(t *testing.T) {
	c := mustParse(t, originsYAML("origins:\n  - http://127.0.0.1:8081\n  - origin: http://127.0.0.1:8082\n    backup: true\n"))
	o := c.Definitions.Backends["api"].Origins
	if o[0].Backup || !o[1].Backup {
		t.Errorf("origins %+v", o)
	}
	wantOnlyError(t, originsYAML("origins:\n  - origin: http://127.0.0.1:8082\n    backup: \"yes\"\n"),
		`definitions.backends.api.origins[0].backup (line 6): must be true or false, got "yes"`)
	wantOnlyError(t, originsYAML("origins:\n  - origin: http://127.0.0.1:8082\n    backup: [1]\n"),
		`definitions.backends.api.origins[0].backup (line 6): must be a single value, not a list`)
}

// Every target of a protocol (or every origin) a backup: legal, warned.
func TestBackupWarnings(t *testing.T) {
	const p = "auth.services.backend_health_checks."
	yml := withTargets(`- {protocol: imap, host: "127.0.0.1", port: 143, backup: true}
- {protocol: imap, host: "127.0.0.2", port: 143, backup: true}
- {protocol: pop3, host: "127.0.0.1", port: 110, backup: true}
- {protocol: pop3, host: "127.0.0.2", port: 110}
`)
	want := []string{p + `targets[0].backup (line 6): every imap target is a backup: with no primary to prefer, backup changes nothing and they share logins as ordinary targets; set backup: false on one, or add a primary imap target`}
	if diff := cmp.Diff(want, mustParse(t, yml).Warnings()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	c := mustParse(t, originsYAML("origins:\n  - origin: http://127.0.0.1:1\n    backup: true\n")+usedByAGateway)
	want = []string{`definitions.backends.api.origins[0].backup (line 6): every origin is a backup: with no primary to prefer, backup changes nothing and they share requests as ordinary origins; set backup: false on one, or add a primary origin`}
	if diff := cmp.Diff(want, c.Warnings()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	c = mustParse(t, originsYAML("origins:\n  - http://127.0.0.1:1\n  - origin: http://127.0.0.1:2\n    backup: true\n")+usedByAGateway)
	if w := c.Warnings(); len(w) != 0 {
		t.Errorf("warnings %q", w)
	}
}
