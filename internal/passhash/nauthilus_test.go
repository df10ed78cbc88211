package passhash

import (
	"os/exec"
	"strings"
	"testing"
)

// openssl passwd -1 -salt S P
var md5CryptVectors = []struct{ setting, password, want string }{
	{"$1$abcdefgh", "Hello world!", "$1$abcdefgh$fzmjzFdo5nMtBG8gtud5e0"},
	{"$1$xy$", "Hello world!", "$1$xy$MBTfrhZipd/i2b0dW9C2u1"},
	{"$1$saltsalt", "", "$1$saltsalt$5Jhcit4zN9UlGiA0txPkO0"},
	{"$1$12345678toolong", "p a\"s\\s w\\xc3\\xb6rd%+&=", "$1$12345678$yek5hKXBgj2js0sIB.0N/0"},
}

func TestMD5CryptVectors(t *testing.T) {
	for _, v := range md5CryptVectors {
		got, err := MD5Crypt(v.password, v.setting)
		if err != nil || got != v.want {
			t.Errorf("MD5Crypt(%q, %q) = %s, %v; want %s", v.password, v.setting, got, err, v.want)
		}
	}
	if path, err := exec.LookPath("openssl"); err == nil {
		out, err := exec.Command(path, "passwd", "-1", "tool made").Output()
		if err != nil {
			t.Fatal(err)
		}
		h := strings.TrimSpace(string(out))
		sp, err := ParseStored(h)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := sp.Verify("tool made"); !ok || err != nil {
			t.Errorf("verify(%s) = %v, %v", h, ok, err)
		}
	}
}

// The {SSHA*} values are sha(password || salt) || salt, made with Python's
// hashlib for "secret".
const (
	ssha256B64 = "oBmrdHcA6OZEkkCLeXh71YAerbvhXz1qqwjrPsXmEtNzYWx0c2FsdA=="
	ssha256Hex = "a019ab747700e8e64492408b79787bd5801eadbbe15f3d6aab08eb3ec5e612d373616c7473616c74"
	ssha512B64 = "MKbQg3rPvz03V+1S0+/jlDdn0B0IiGGxl7kZMimdo1IHHWN6DtzxJMCchsX5U1lrRY7apW/oopOgERexYda1nAECAwQ="
)

func TestParseStoredNauthilusSchemes(t *testing.T) {
	for _, stored := range []string{
		"{SSHA256}" + ssha256B64, "{SSHA256.B64}" + ssha256B64, "{SSHA256.HEX}" + ssha256Hex,
		"{ssha256.hex}" + ssha256Hex, "{SSHA512}" + ssha512B64,
		"$1$saltsalt$5Jhcit4zN9UlGiA0txPkO0",
	} {
		password := "secret"
		if strings.HasPrefix(stored, "$1$") {
			password = ""
		}
		sp, err := ParseStored(stored)
		if err != nil {
			t.Fatalf("ParseStored(%q): %v", stored, err)
		}
		if ok, err := sp.Verify(password); !ok || err != nil {
			t.Errorf("%q: Verify = %v, %v", stored, ok, err)
		}
		if ok, _ := sp.Verify(password + "x"); ok {
			t.Errorf("%q accepted a wrong password", stored)
		}
	}
	for _, bad := range []string{
		"secret", "{PLAIN}secret", "{CLEARTEXT}x", "{SSHA256", "{SSHA256}!!!", "{SSHA256.HEX}zz",
		"{SSHA256.B32}abc", "{SSHA256}" + "c2FsdA==", "$7$x", "", "{SHA512-CRYPT}$6$x$y",
	} {
		if _, err := ParseStored(bad); err == nil {
			t.Errorf("ParseStored(%q) accepted", bad)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("error repeats the value: %v", err)
		}
	}
}

func TestCost(t *testing.T) {
	cases := map[string]Cost{
		"$6$rounds=20000$salt$x": {Rounds: 20000},
		"$5$salt$x":              {Rounds: 5000},
		"$2y$05$hXvx8GaJzZgLswMaYq28fOv8zKOu8bzaM82lvC/G6941yNvKPrAqy":                                      {BcryptCost: 5},
		"$argon2id$v=19$m=65536,t=3,p=1$lldyQF3FzOs3LLgIsd83GQ$ozpYC6EnnTRtBZbwF1ZsXisNJsoFfE/aV8Po0bmRh8s": {Argon2Passes: 3, Argon2Memory: 64 << 20},
	}
	for h, want := range cases {
		sp, err := ParseStored(h)
		if err != nil {
			t.Fatal(err)
		}
		if got := sp.Cost(); got != want {
			t.Errorf("Cost(%s) = %+v, want %+v", h, got, want)
		}
	}
}

// Dovecot passwd-files may hold the schemes Nauthilus compares too.
func TestParseDovecotSchemesShared(t *testing.T) {
	for field, password := range map[string]string{
		"{SSHA256}" + ssha256B64:                        "secret",
		"{SSHA256.HEX}" + ssha256Hex:                    "secret",
		"{SSHA512}" + ssha512B64:                        "secret",
		"{MD5-CRYPT}$1$abcdefgh$fzmjzFdo5nMtBG8gtud5e0": "Hello world!",
		"{CRYPT}$1$abcdefgh$fzmjzFdo5nMtBG8gtud5e0":     "Hello world!",
		"$1$abcdefgh$fzmjzFdo5nMtBG8gtud5e0":            "Hello world!",
	} {
		ok, err := VerifyField(field, password)
		if !ok || err != nil {
			t.Errorf("%s: %v, %v", field, ok, err)
		}
		if ok, _ := VerifyField(field, password+"x"); ok {
			t.Errorf("%s accepted a wrong password", field)
		}
	}
	for _, bad := range []string{"{MD5-CRYPT}$6$x$y", "{SSHA256}!!", "{SSHA512.B32}x"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}
