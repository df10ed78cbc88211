package auth

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/passwdfile"
)

func TestPasswdFileReload(t *testing.T) {
	path := writePasswd(t, "alice:{PLAIN}one")
	logs := &syncBuffer{}
	f, err := newPasswdFile("file", path, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	f.now = func() time.Time { return now }
	f.lastStat.Store(now.UnixNano())
	reloads := 0
	f.onReload = func() { reloads++ }

	check := func(pw string) bool {
		res, err := f.check(context.Background(), &Request{Username: "alice", Password: pw})
		if err != nil {
			t.Fatal(err)
		}
		return res.Authenticated
	}
	if !check("one") {
		t.Fatal("initial password refused")
	}
	if err := os.WriteFile(path, []byte("alice:{PLAIN}two-longer\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Within a second of the last stat the old copy still answers.
	if !check("one") {
		t.Error("reloaded before the stat interval")
	}
	now = now.Add(statInterval)
	if !check("two-longer") || check("one") {
		t.Error("changed file not reloaded")
	}
	if reloads != 1 {
		t.Errorf("onReload ran %d times", reloads)
	}
	// A vanished file keeps the last good copy.
	os.Remove(path)
	now = now.Add(statInterval)
	if !check("two-longer") {
		t.Error("lost users when the file vanished")
	}
	if !strings.Contains(logs.String(), "keeping the last loaded copy") {
		t.Errorf("no error logged:\n%s", logs.String())
	}
}

func TestPasswdFileEntries(t *testing.T) {
	path := writePasswd(t,
		"plain:{PLAIN}pw:1000:1000::/home/plain::quota=1G",
		"broken:{MD5}abcdef",
		"open:::::::nopassword",
		"renamed:{PLAIN}pw:::::: user=plain",
		"sha:$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
	)
	logs := &syncBuffer{}
	f, err := newPasswdFile("file", path, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		user, pw         string
		found, authentic bool
	}{
		{"plain", "pw", true, true},
		{"plain", "PW", true, false},
		{"broken", "abcdef", true, false},
		{"open", "anything", true, true},
		{"sha", "Hello world!", true, true},
		{"nobody", "pw", false, false},
	} {
		res, err := f.check(context.Background(), &Request{Username: c.user, Password: c.pw})
		if err != nil || res.UserFound != c.found || res.Authenticated != c.authentic {
			t.Errorf("%s/%s: %+v %v", c.user, c.pw, res, err)
		}
	}
	res, _ := f.check(context.Background(), &Request{Username: "plain", Password: "pw"})
	if got := res.Attributes["quota"]; len(got) != 1 || got[0] != "1G" {
		t.Errorf("extra fields: %v", res.Attributes)
	}
	if res, _ := f.check(context.Background(), &Request{Username: "renamed", Password: "pw"}); res.Account != "plain" || !res.Authenticated {
		t.Errorf("user extra field: %+v", res)
	}
	if strings.Contains(logs.String(), "abcdef") {
		t.Error("a stored hash was logged")
	}

	if _, err := newPasswdFile("dup", writePasswd(t, "a:{PLAIN}x", "a:{PLAIN}y"), slog.New(slog.DiscardHandler)); err == nil ||
		!strings.Contains(err.Error(), `line 2: user "a" listed twice (first on line 1)`) {
		t.Errorf("duplicate user: %v", err)
	}
}

func TestPassdbOrder(t *testing.T) {
	// The first database that knows the user decides; unknown users fall
	// through to the next one (here a backend login).
	env := newEnv(t, func(c *config.Config, _ *Options) {
		c.Auth.Passdb = append(c.Auth.Passdb, config.Passdb{Type: config.PassdbBackendLogin})
		c.Auth.Cache.TTL = new(time.Duration)
	})
	env.checker.password = "remote-pass"

	if w := env.do(nginxRequest(testUser, "remote-pass", "imap", "1")); w.Header().Get("Auth-Status") == "OK" {
		t.Error("passwd-file knows alice; the backend must not be asked")
	}
	if len(env.checker.calls) != 0 {
		t.Errorf("backend asked %d times", len(env.checker.calls))
	}
	w := env.do(nginxRequest("carol", "remote-pass", "imap", "1"))
	if w.Header().Get("Auth-Status") != "OK" {
		t.Errorf("carol via backend login: %v", w.Header())
	}
	call := env.checker.calls[0]
	if call.Username != "carol" || call.Password != "remote-pass" || !call.DeepCheck || call.Mechanism != config.MechAuto ||
		call.Host != "127.0.0.1" || call.Port != 1143 {
		t.Errorf("probe target %+v", call)
	}
	// The health snapshot's shared target was copied, not changed.
	if tgt := env.health.Snapshot().Backends[0].Target; tgt.Username != "" {
		t.Error("backend_login modified the shared target")
	}
	if w := env.do(nginxRequest("carol", "wrong-password", "smtp", "1")); w.Header().Get("Auth-Status") != config.DefaultFailureMessage {
		t.Errorf("wrong remote password: %v", w.Header())
	}
	if got := env.checker.calls[1]; got.Protocol != "smtp" || got.Port != 1587 {
		t.Errorf("smtp login used %+v", got)
	}
	env.checker.down = true
	if w := env.do(nginxRequest("carol", "remote-pass", "pop3", "1")); w.Header().Get("Auth-Status") != config.DefaultTempfailMessage {
		t.Errorf("backend down: %v", w.Header())
	}
	if !strings.Contains(env.logs.String(), "login to 127.0.0.1:1110 failed (connect_refused)") {
		t.Errorf("log lacks the tempfail reason:\n%s", env.logs.String())
	}
	env.health.set()
	if w := env.do(nginxRequest("carol", "remote-pass", "imap", "1")); w.Header().Get("Auth-Status") != config.DefaultTempfailMessage {
		t.Errorf("no backend: %v", w.Header())
	}
}

func TestNoAuthMode(t *testing.T) {
	filters := &fakeFilters{fn: func(filterRequest) (*filterOutcome, error) { return nil, nil }}
	env := newEnv(t, func(_ *config.Config, o *Options) { o.filters = filters })
	r := nginxRequest("", "", "smtp", "1")
	r.Header.Set("Auth-Method", "none")
	r.URL.RawQuery = "mode=no-auth"
	w := env.do(r)
	if w.Header().Get("Auth-Status") != "OK" || w.Header().Get("Auth-Server") != "127.0.0.1" || w.Header().Get("Auth-Port") != "1587" {
		t.Errorf("no-auth: %v", w.Header())
	}
	if !filters.seen[0].NoAuth || filters.seen[0].Authenticated {
		t.Errorf("filters saw %+v", filters.seen[0])
	}
}

// A passwd-file path naming a device or a huge file is refused at load
// instead of read until memory runs out.
func TestPasswdFileReadsAreBounded(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(&syncBuffer{}, nil))
	if _, err := newPasswdFile("dev", "/dev/zero", logger); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("/dev/zero: err = %v, want not a regular file", err)
	}
	big := writePasswd(t, "alice:{PLAIN}one")
	if err := os.Truncate(big, passwdfile.MaxSize+1); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	if _, err := newPasswdFile("big", big, logger); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversized file: err = %v, want larger than", err)
	}
}
