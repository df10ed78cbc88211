package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAuthDefaults(t *testing.T) {
	c := mustParse(t, "auth:\n  nginx:\n    failure_message: Nope\n")
	n, cache := c.Auth.Nginx, c.Auth.Cache
	if n.EffectiveFailureMessage() != "Nope" || n.EffectiveTempfailMessage() != DefaultTempfailMessage ||
		n.EffectiveWaitDelay() != 10 || n.EffectiveMaxWaitAttempts() != 20 || n.EffectiveNoBackendWait() != 5 ||
		n.EffectiveDefaultPolicy() != PolicyUserHash {
		t.Errorf("nginx defaults: %+v", n)
	}
	if cache.EffectiveTTL() != time.Minute || cache.EffectiveMaxEntries() != 100000 {
		t.Errorf("cache defaults: %+v", cache)
	}
	c = mustParse(t, "auth:\n  cache:\n    ttl: 0\n  nginx:\n    wait_delay: 0\n")
	if c.Auth.Cache.EffectiveTTL() != 0 || c.Auth.Nginx.EffectiveWaitDelay() != 0 {
		t.Errorf("explicit zeros lost: %+v %+v", c.Auth.Cache, c.Auth.Nginx)
	}
}

func TestAuthPassdbs(t *testing.T) {
	dir := t.TempDir()
	passwd := filepath.Join(dir, "passwd")
	if err := os.WriteFile(passwd, []byte("u:{PLAIN}p\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := mustParse(t, "auth:\n  passdb:\n    - type: passwd_file\n      path: "+passwd+"\n    - type: backend_login\n      protocol: imap\n")
	if len(c.Auth.Passdb) != 2 || c.Auth.Passdb[1].Protocol != "imap" {
		t.Errorf("passdbs: %+v", c.Auth.Passdb)
	}
	missing := filepath.Join(dir, "nope")
	wantOnlyError(t, "auth:\n  passdb:\n    - type: passwd_file\n      path: "+missing+"\n",
		"auth.passdb[0].path (line 4): cannot read passwd-file "+missing+": no such file or directory")
	wantOnlyError(t, "auth:\n  passdb:\n    - type: ldap\n",
		`auth.passdb[0].type (line 3): unknown passdb type "ldap" (use passwd_file, lua or backend_login)`)
	wantOnlyError(t, "auth:\n  passdb:\n    - type: lua\n",
		"auth.passdb[0].script_path (line 3): is required for type lua")
	wantOnlyError(t, "auth:\n  passdb:\n    - type: backend_login\n      protocol: ftp\n",
		`auth.passdb[0].protocol (line 4): unknown protocol "ftp" (use imap, pop3, smtp, lmtp, sieve or http; empty means the request's)`)
	wantOnlyError(t, "auth:\n  passdb:\n    - type: backend_login\n      path: /x\n",
		"auth.passdb[0].path (line 4): only applies to type passwd_file")
}

func TestAuthNginxErrors(t *testing.T) {
	wantOnlyError(t, "auth:\n  nginx:\n    default_policy: random\n",
		`auth.nginx.default_policy (line 3): unknown policy "random" (use first, round_robin, user_hash, weighted_round_robin or sticky)`)
	wantOnlyError(t, "auth:\n  nginx:\n    wait_delay: -1\n",
		"auth.nginx.wait_delay (line 3): must be between 0 and 3600, got -1")
	wantOnlyError(t, "auth:\n  cache:\n    max_entries: 0\n",
		"auth.cache.max_entries (line 3): must be at least 1, got 0 (set ttl: 0 to disable the cache)")
	wantOnlyError(t, "auth:\n  cache:\n    ttl: 48h\n",
		"auth.cache.ttl (line 3): must be at most 24h, got 48h0m0s")
	wantOnlyError(t, "auth:\n  nginx:\n    failure_message: \"a\\r\\nb\"\n",
		"auth.nginx.failure_message (line 3): must not contain control characters (it becomes an HTTP header)")
}

func TestAuthNginxPanic(t *testing.T) {
	c := mustParse(t, "auth:\n  nginx:\n    default_policy: weighted_round_robin\n    panic:\n      mode: use_all\n      below_percent: 50\n")
	if p := c.Auth.Nginx.Panic; p.EffectiveMode() != PanicUseAll || p.EffectiveBelowPercent() != 50 {
		t.Errorf("panic: %+v", p)
	}
	if p := mustParse(t, "auth: {}\n").Auth.Nginx.Panic; p.EffectiveMode() != PanicFailClosed || p.EffectiveBelowPercent() != 0 {
		t.Errorf("panic defaults: %+v", p)
	}
	wantOnlyError(t, "auth:\n  nginx:\n    panic:\n      mode: open\n",
		`auth.nginx.panic.mode (line 4): unknown panic mode "open" (use fail_closed or use_all)`)
	wantOnlyError(t, "auth:\n  nginx:\n    panic:\n      below_percent: 101\n",
		"auth.nginx.panic.below_percent (line 4): must be between 0 and 100, got 101")
	wantOnlyError(t, "auth:\n  nginx:\n    panic:\n      mode: use_all\n",
		"auth.nginx.panic.below_percent (line 3): must be 1..100 with mode use_all (the share of eligible backends below which all are used)")
}

func TestAuthNoBackendHold(t *testing.T) {
	c := mustParse(t, "auth:\n  nginx:\n    failure_message: x\n")
	if c.Auth.Nginx.EffectiveNoBackendHold() != 0 {
		t.Errorf("no_backend_hold default %s, want 0 (off)", c.Auth.Nginx.EffectiveNoBackendHold())
	}
	c = mustParse(t, "auth:\n  nginx:\n    no_backend_hold: 30s\n")
	if c.Auth.Nginx.EffectiveNoBackendHold() != 30*time.Second {
		t.Errorf("no_backend_hold %s, want 30s", c.Auth.Nginx.EffectiveNoBackendHold())
	}
	wantOnlyError(t, "auth:\n  nginx:\n    no_backend_hold: -1s\n",
		`auth.nginx.no_backend_hold (line 3): duration "-1s" must not be negative`)
	wantOnlyError(t, "auth:\n  nginx:\n    no_backend_hold: 11m\n",
		"auth.nginx.no_backend_hold (line 3): must be between 0s and 10m0s, got 11m0s")
	wantOnlyError(t, "auth:\n  nginx:\n    no_backend_wait: 0\n    no_backend_hold: 30s\n",
		"auth.nginx.no_backend_wait (line 3): must be at least 1 with no_backend_hold (nginx asks again at once after an Auth-Wait of 0)")
	// Off, a wait of 0 stays what it was: no Auth-Wait on the tempfail.
	mustParse(t, "auth:\n  nginx:\n    no_backend_wait: 0\n    no_backend_hold: 0s\n")

	// A wait longer than the hold is legal but keeps clients far longer
	// than the hold says.
	c = mustParse(t, "auth:\n  nginx:\n    no_backend_wait: 120\n    no_backend_hold: 30s\n")
	want := "auth.nginx.no_backend_wait (line 3): 120 s is longer than no_backend_hold (30s): nginx keeps a held client for the whole wait, so a login is held up to 4m30s"
	if got := strings.Join(c.Warnings(), "\n"); !strings.Contains(got, want) {
		t.Errorf("warnings %q lack %q", got, want)
	}
	c = mustParse(t, "auth:\n  nginx:\n    no_backend_wait: 5\n    no_backend_hold: 30s\n")
	if got := strings.Join(c.Warnings(), "\n"); strings.Contains(got, "no_backend_wait") {
		t.Errorf("warning for a wait shorter than the hold: %q", got)
	}
}
