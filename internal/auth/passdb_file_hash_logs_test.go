package auth

import (
	"context"
	"log/slog"
	"strings"
	"testing"
)

// A password field broken by a misplaced '}' or a mistyped separator makes
// the passdb warn at load and at a login; no warning holds the hash, of
// any scheme, only the line and what is wrong.
func TestPasswdFileWarningsHoldNoHash(t *testing.T) {
	secrets := []string{"saltsalt", "abcdefghijklmnop", "secret", "c2FsdHNhbHQ"}
	path := writePasswd(t,
		"a:{SHA512-CRYPT$6$saltsalt$Zm9vYmFy}",
		"b:{$2y$10$abcdefghijklmnopqrstuu}",
		"c:{PLAIN secret}",
		"d:{ARGON2ID$argon2id$v=19$m=65536,t=3,p=1$c2FsdHNhbHQ$aGFzaA}",
		"e:{SSHA256.$6$saltsalt}Zm9v",
		"f,{SHA512-CRYPT}$6$saltsalt$Zm9vYmFy:1000:1000::/home/f::",
		"g|{PLAIN}secret",
		"h={ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$c2FsdHNhbHQ$aGFzaA:",
		"i,$2y$10$abcdefghijklmnopqrstuu:x",
	)
	logs := &syncBuffer{}
	f, err := newPasswdFile("file", path, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for _, user := range []string{"a", "b", "c", "d", "e"} {
		if res, _ := f.check(context.Background(), &Request{Username: user, Password: "pw"}); res.Authenticated {
			t.Errorf("%s: authenticated", user)
		}
	}
	out := logs.String()
	for _, s := range secrets {
		if strings.Contains(strings.ToLower(out), strings.ToLower(s)) {
			t.Errorf("%q is in the logs:\n%s", s, out)
		}
	}
	if n := strings.Count(out, "unusable password field"); n < 5 {
		t.Errorf("%d load warnings, want one a broken line:\n%s", n, out)
	}
	if !strings.Contains(out, "line=1 ") || !strings.Contains(out, "unsupported password scheme") {
		t.Errorf("the warning says neither line nor what is wrong:\n%s", out)
	}
}
