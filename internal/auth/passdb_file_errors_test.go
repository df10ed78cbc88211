package auth

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
)

// The auth handler refuses a passwd-file with the same words as config
// validation (they share internal/passwdfile) and the same key path and
// line: it only gets to refuse one that changed after validation.
func TestHandlerRefusesPasswdFileWithKeyPath(t *testing.T) {
	path := writePasswd(t, "alice:{PLAIN}TopSecret1", "alice:{PLAIN}TopSecret2")
	cfg := &config.Config{Lines: config.Lines{"auth.passdb[0].path": 12}}
	cfg.Auth.Passdb = []config.Passdb{{Type: config.PassdbPasswdFile, Path: path}}
	_, err := New(Options{Config: cfg, Health: &fakeHealth{}, Checker: &fakeChecker{}, Logger: slog.New(slog.DiscardHandler)})
	var errs config.Errors
	if !errors.As(err, &errs) || len(errs) != 1 ||
		errs[0].Error() != `auth.passdb[0].path (line 12): passwd-file `+path+` line 2: user "alice" listed twice (first on line 1)` {
		t.Fatalf("New: %v", err)
	}
	if strings.Contains(err.Error(), "TopSecret") {
		t.Errorf("the error quotes a password: %v", err)
	}
}

// A running passwd-file edited into one the parser refuses keeps the last
// good copy, and the log names the line without the password.
func TestPasswdFileReloadRefusedKeepsCopy(t *testing.T) {
	path := writePasswd(t, "alice:{PLAIN}one")
	logs := &syncBuffer{}
	f, err := newPasswdFile("file", path, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	f.now = func() time.Time { return now }
	f.lastStat.Store(now.UnixNano())
	if err := os.WriteFile(path, []byte("alice:{PLAIN}TopSecret1\r\nalice:{PLAIN}TopSecret2\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	now = now.Add(statInterval)
	res, err := f.check(context.Background(), &Request{Username: "alice", Password: "one"})
	if err != nil || !res.Authenticated {
		t.Errorf("the last good copy no longer answers: %+v %v", res, err)
	}
	if l := logs.String(); !strings.Contains(l, `line 2: user \"alice\" listed twice (first on line 1)`) || strings.Contains(l, "TopSecret") {
		t.Errorf("log:\n%s", l)
	}
}

// A line without ":" is all "user", and may be a hash written on its own:
// the user is known (and can never log in), and the log names the line only.
func TestPasswdFileBareLineNotLogged(t *testing.T) {
	const bare = "$6$salt$BareHashOnItsOwnLine"
	path := writePasswd(t, "alice:{PLAIN}one", bare)
	logs := &syncBuffer{}
	f, err := newPasswdFile("file", path, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if l := logs.String(); strings.Contains(l, "BareHash") || !strings.Contains(l, "line=2") {
		t.Errorf("log of the load:\n%s", l)
	}
	res, err := f.check(context.Background(), &Request{Username: bare, Password: ""})
	if err != nil || !res.UserFound || res.Authenticated {
		t.Errorf("bare line: %+v %v", res, err)
	}
}
