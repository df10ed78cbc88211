package auth

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The parsed entries share one copy of the file's text. Lookups running
// while the file is reloaded again and again each see one whole version
// of an entry (its account and attributes from the same line), never a
// mix, and the race detector sees no shared memory written under them.
func TestPasswdFileReloadWhileLookingUp(t *testing.T) {
	version := func(v int) string {
		// Each version has another size: the reload notices it whatever
		// the file system's time granularity.
		return fmt.Sprintf("alice:{PLAIN}pw-%d\nbob:{PLAIN}bob-%d::::::user=bob-%d quota=%dG pad=%s\n",
			v, v, v, v, strings.Repeat("x", v))
	}
	path := writePasswd(t, strings.TrimSuffix(version(0), "\n"))
	f, err := newPasswdFile("file", path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var now atomic.Int64
	now.Store(time.Unix(1000, 0).UnixNano())
	f.now = func() time.Time { return time.Unix(0, now.Load()) }
	f.lastStat.Store(now.Load())

	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				res, err := f.check(context.Background(), &Request{Username: "bob", Password: "wrong"})
				if err != nil || !res.UserFound || res.Authenticated {
					errs <- fmt.Sprintf("bob: %+v %v", res, err)
					return
				}
				var v int
				if _, err := fmt.Sscanf(res.Account, "bob-%d", &v); err != nil {
					errs <- "account " + res.Account
					return
				}
				if q := res.Attributes["quota"]; len(q) != 1 || q[0] != fmt.Sprintf("%dG", v) {
					errs <- fmt.Sprintf("account %s with quota %v", res.Account, q)
					return
				}
			}
		})
	}
	const versions = 50
	for v := 1; v <= versions; v++ {
		// Replaced whole (as editors and config management do): a file
		// rewritten in place can be read half written.
		if err := os.WriteFile(path+".new", []byte(version(v)), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".new", path); err != nil {
			t.Fatal(err)
		}
		// A lookup does not wait for a reload another one runs (it
		// answers from the copy it has): ask again a second later until
		// the new version answers.
		for try := 0; ; try++ {
			now.Add(int64(statInterval))
			res, err := f.check(context.Background(), &Request{Username: "alice", Password: fmt.Sprintf("pw-%d", v)})
			if err == nil && res.Authenticated {
				break
			}
			if try == 100 {
				t.Fatalf("version %d: alice not authenticated: %+v %v", v, res, err)
			}
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// A password field never reaches a log line, however the file goes wrong:
// refused at a reload (a user listed twice, a control character, a line
// too long), a line without ":" (all of it may be a hash), or an unusable
// hash (logged at load and at each login of its user).
func TestPasswdFileLogsNeverQuoteAHash(t *testing.T) {
	const hash = "Zq9HashNeverLogged"
	path := writePasswd(t, "alice:{PLAIN}one")
	logs := &syncBuffer{}
	f, err := newPasswdFile("file", path, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	var now atomic.Int64
	now.Store(time.Unix(1000, 0).UnixNano())
	f.now = func() time.Time { return time.Unix(0, now.Load()) }
	f.lastStat.Store(now.Load())
	for _, content := range []string{
		"alice:{PLAIN}" + hash + "\nalice:{SHA512-CRYPT}$6$salt$" + hash + "\n",
		"alice:{PLAIN}one\nb\tob:{PLAIN}" + hash + "\n",
		"alice:{PLAIN}one\nbob:{PLAIN}" + hash + strings.Repeat("y", 1<<20) + "\n",
		"alice:{PLAIN}one\n$6$salt$" + hash + "\n",
		"alice:{PLAIN}one\nbob:{SHA512-CRYPT}" + hash + "\ncarol:{PLAIN" + hash + "\ndave:{SSHA256}" + hash + "!\n",
		"alice:{PLAIN}one\nbob:" + hash + "\n",
	} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		now.Add(int64(statInterval))
		for _, user := range []string{"alice", "bob", "carol", "dave"} {
			if _, err := f.check(context.Background(), &Request{Username: user, Password: "one"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	l := logs.String()
	if strings.Contains(l, hash) {
		t.Errorf("a log line quotes a password field:\n%s", l)
	}
	for _, want := range []string{"listed twice", "control character", "longer than 1 MiB", "a line without a password field", "unusable password field", "passwd-file entry unusable"} {
		if !strings.Contains(l, want) {
			t.Errorf("no %q in the log (the case was not reached):\n%s", want, l)
		}
	}
}

// User names compare as bytes, as before the shared parser and as in
// Dovecot's passwd-file: "Bob" and "bob" are two users, each with its own
// password, and neither answers for the other.
func TestPasswdFileUserNamesAreCaseSensitive(t *testing.T) {
	f, err := newPasswdFile("file", writePasswd(t, "Bob:{PLAIN}upper", "bob:{PLAIN}lower"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("Bob and bob refused as one user listed twice: %v", err)
	}
	for _, tt := range []struct {
		user, password string
		want           bool
	}{{"Bob", "upper", true}, {"bob", "lower", true}, {"Bob", "lower", false}, {"bob", "upper", false}, {"BOB", "upper", false}} {
		res, err := f.check(context.Background(), &Request{Username: tt.user, Password: tt.password})
		if err != nil || res.Authenticated != tt.want {
			t.Errorf("%s/%s: %+v %v, want authenticated %v", tt.user, tt.password, res, err, tt.want)
		}
	}
}

// A separator typed wrong (a space or ";" for the first ":") leaves the
// hash in the user field while the line still has colons (the uid, gid,
// … fields): the password field is then empty or a number and unusable,
// and the load's log line about it must name the line, not that "user".
func TestPasswdFileUnusableFieldLogNamesLineNotUser(t *testing.T) {
	const hash = "Zq9TypoedHash"
	logs := &syncBuffer{}
	path := writePasswd(t,
		"alice:{PLAIN}one",
		"bob {SHA512-CRYPT}$6$salt$"+hash+"::::::quota=1G",
		"carol;{PLAIN}"+hash+":1000:1000:Carol:/home/carol:/bin/sh")
	if _, err := newPasswdFile("file", path, slog.New(slog.NewTextHandler(logs, nil))); err != nil {
		t.Fatal(err)
	}
	l := logs.String()
	if strings.Contains(l, hash) {
		t.Errorf("the load's log quotes a hash typed into the user field:\n%s", l)
	}
	if !strings.Contains(l, "line=2") || !strings.Contains(l, "line=3") {
		t.Errorf("the log does not name lines 2 and 3:\n%s", l)
	}
}
