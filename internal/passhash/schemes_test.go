package passhash

import (
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// Vectors from Drepper's SHA-crypt specification and from glibc crypt(3).
var shaCryptVectors = []struct{ setting, password, want string }{
	{"$5$saltstring", "Hello world!", "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"},
	{"$5$rounds=10000$saltstringsaltstring", "Hello world!", "$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA"},
	{"$5$rounds=5000$toolongsaltstring", "This is just a test", "$5$rounds=5000$toolongsaltstrin$Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5"},
	{"$5$rounds=77777$short", "we have a short salt string but not a short password", "$5$rounds=77777$short$JiO1O3ZpDAxGJeaDIuqCoEFysAe1mZNJRs3pw0KQRd/"},
	{"$5$saltstring", "", "$5$saltstring$FdNfA4gXqvCeO6iZs7G/.wwwoywYZqo0l1pwmfWaBA7"},
	{"$6$saltstring", "Hello world!", "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"},
	{"$6$rounds=1400$anotherlongsaltstring", "a very much longer text to encrypt.  This one even stretches over morethan one line.", "$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1"},
	{"$6$rounds=10$roundstoolow", "the minimum number is still observed", "$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX."},
	{"$6$$", "", "$6$$/chiBau24cE26QQVW3IfIe68Xu5.JQ4E8Ie7lcRLwqxO5cxGuBhqF2HmTL.zWJ9zjChg3yJYFXeGBQ2y3Ba1d1"},
	{"$6$abc", "p a\"s\\s w\xc3\xb6rd%+&=", "$6$abc$p86QZt4F5Uac7VsC/sgKtL3cY.cPFAhLquK9go6qFzMLE8msopQ4QCrjx8M87bjG7VCYmmszi5heYFsjEYDzf0"},
}

func TestSHACryptVectors(t *testing.T) {
	for _, v := range shaCryptVectors {
		got, err := SHACrypt(v.password, v.setting)
		if err != nil {
			t.Fatalf("SHACrypt(%q): %v", v.setting, err)
		}
		if got != v.want {
			t.Errorf("SHACrypt(%q, %q)\n got %s\nwant %s", v.setting, v.password, got, v.want)
		}
		// Verifying against the full hash reproduces it.
		sp, err := Parse(v.want)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := sp.Verify(v.password); !ok || err != nil {
			t.Errorf("verify(%s) = %v, %v", v.want, ok, err)
		}
		if ok, _ := sp.Verify(v.password + "x"); ok {
			t.Errorf("verify(%s) accepted a wrong password", v.want)
		}
	}
}

// TestSHACryptAgainstTools checks hashes made by openssl and doveadm when
// they are installed; fixed vectors above cover machines without them.
func TestSHACryptAgainstTools(t *testing.T) {
	password := "p a\"s\\s w\xc3\xb6rd%+&="
	var hashes []string
	if path, err := exec.LookPath("openssl"); err == nil {
		for _, flag := range []string{"-5", "-6"} {
			out, err := exec.Command(path, "passwd", flag, password).Output()
			if err != nil {
				t.Fatalf("openssl passwd %s: %v", flag, err)
			}
			hashes = append(hashes, strings.TrimSpace(string(out)))
		}
	}
	if path, err := exec.LookPath("doveadm"); err == nil {
		for _, scheme := range []string{"SHA512-CRYPT", "SHA256-CRYPT", "BLF-CRYPT", "ARGON2ID"} {
			out, err := exec.Command(path, "pw", "-s", scheme, "-p", password).Output()
			if err != nil {
				t.Logf("doveadm pw -s %s: %v (scheme not built in)", scheme, err)
				continue
			}
			hashes = append(hashes, strings.TrimSpace(string(out)))
		}
	}
	t.Logf("checked %d tool-made hashes", len(hashes))
	for _, h := range hashes {
		sp, err := Parse(h)
		if err != nil {
			t.Fatalf("parse %s: %v", h, err)
		}
		if ok, err := sp.Verify(password); !ok || err != nil {
			t.Errorf("verify(%s) = %v, %v", h, ok, err)
		}
		if ok, _ := sp.Verify("wrong"); ok {
			t.Errorf("verify(%s) accepted a wrong password", h)
		}
	}
}

func TestSchemes(t *testing.T) {
	bcryptHash, err := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	y := "$2y$" + string(bcryptHash[4:])
	cases := []struct {
		field, password string
		want            bool
	}{
		{"{PLAIN}secret", "secret", true},
		{"{PLAIN}secret", "Secret", false},
		{"{CLEARTEXT}secret", "secret", true},
		{"{plain}secret", "secret", true},
		{"{BLF-CRYPT}" + string(bcryptHash), "secret", true},
		{"{BLF-CRYPT}" + y, "secret", true},
		{y, "secret", true},
		{"{BLF-CRYPT}" + y, "secreT", false},
		// doveadm pw -s ARGON2ID -p test
		{"{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$lldyQF3FzOs3LLgIsd83GQ$ozpYC6EnnTRtBZbwF1ZsXisNJsoFfE/aV8Po0bmRh8s", "test", true},
		{"{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$lldyQF3FzOs3LLgIsd83GQ$ozpYC6EnnTRtBZbwF1ZsXisNJsoFfE/aV8Po0bmRh8s", "tesT", false},
		// doveadm pw -s BLF-CRYPT -p test (Dovecot's default cost 5)
		{"{BLF-CRYPT}$2y$05$hXvx8GaJzZgLswMaYq28fOv8zKOu8bzaM82lvC/G6941yNvKPrAqy", "test", true},
		{"{SHA512-CRYPT}$6$Lh4o2o4LakBW0xif$XSgp3jUcd39MO3sS2ThFymfnXjfzNEUz88dfnDFHm6nFfTwBOkNfofEpXlcQR94gYgI2qwEVsLovQG/7.N75e/", "test", true},
		{"{CRYPT}$6$Lh4o2o4LakBW0xif$XSgp3jUcd39MO3sS2ThFymfnXjfzNEUz88dfnDFHm6nFfTwBOkNfofEpXlcQR94gYgI2qwEVsLovQG/7.N75e/", "test", true},
		{"{ARGON2I}" + argon2iVector, "password", true},
		{"{ARGON2I}" + argon2iVector, "passworD", false},
	}
	for _, c := range cases {
		sp, err := Parse(c.field)
		if err != nil {
			t.Fatalf("parse %q: %v", c.field, err)
		}
		got, err := sp.Verify(c.password)
		if err != nil {
			t.Fatalf("verify %q: %v", c.field, err)
		}
		if got != c.want {
			t.Errorf("verify(%q, %q) = %v, want %v", c.field, c.password, got, c.want)
		}
	}
}

// argon2iVector is the reference implementation's example output
// (argon2 "somesalt" -i -t 2 -m 16 -p 4 with password "password").
const argon2iVector = "$argon2i$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$IMit9qkFULCMA/ViizL57cnTLOa5DiVM9eMwpAvPwr4"

func TestBadStoredPasswords(t *testing.T) {
	for _, field := range []string{
		"secret",          // no scheme
		"{MD5}abc",        // unsupported
		"{PLAIN",          // unterminated
		"{SHA512-CRYPT}x", // not a crypt hash
		"{ARGON2ID}$argon2id$v=19$m=0,t=1,p=1$c2FsdA$aGFzaA",
	} {
		sp, err := Parse(field)
		if err == nil {
			if _, err = sp.Verify("x"); err == nil {
				t.Errorf("%q: accepted", field)
			}
		}
	}
}
