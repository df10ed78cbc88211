package redact

import (
	"strings"
	"testing"
)

// FuzzQuery: whatever the query, every parameter keeps its place and name,
// a sensitive one with a value shows Placeholder, every other one is left
// exactly as written but for a URL credential inside its value.
func FuzzQuery(f *testing.F) {
	for _, s := range []string{"a=1", "token=x&b=2", "&&=", "%74oken=1", "key", "x=a=b&pass=c=d", "a=1;sig=2",
		"acc%65ss_token=x", "%zz=1", "token=;token=&&", "x=" + Placeholder} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		out := Query(q)
		ins, gots := splitBoth(q), splitBoth(out)
		if len(ins) != len(gots) {
			t.Fatalf("%q -> %q: pairs changed", q, out)
		}
		for i, pair := range ins {
			name, value, hasValue := strings.Cut(pair, "=")
			withheld := hasValue && value != "" && SensitiveParam(name)
			if withheld && gots[i] != name+"="+Placeholder {
				t.Fatalf("%q -> %q: value of %q kept", q, out, name)
			}
			// A harmless value changes only where it holds a URL
			// credential of its own (next=/cb?code=…).
			if !withheld && gots[i] != pair && (!hasValue || gots[i] != name+"="+nestedShown(value)) {
				t.Fatalf("%q -> %q: %q changed", q, out, pair)
			}
		}
	})
}

// splitBoth splits a raw query at '&', ';' and '#', as Query does.
func splitBoth(q string) []string {
	var out []string
	for {
		i := strings.IndexAny(q, "&;#")
		if i < 0 {
			return append(out, q)
		}
		out = append(out, q[:i])
		q = q[i+1:]
	}
}

// sensitiveSamples are names FuzzQuerySecret and FuzzTextSecret plant a
// secret under, spelled as hostile clients might.
var sensitiveSamples = []string{"access_token", "ID_TOKEN", "acc%65ss_token", "code", "client_secret", "Password",
	"passwd", "pass", "api_key", "apikey", "Key", "signature", "sig", "X-Amz-Signature", "X-Amz-Credential",
	"X-Goog-Signature", "%74oken", "to%6Ben"}

const plantedSecret = "Zq9planted7Vx"

// FuzzQuerySecret plants a secret under a sensitive name between fuzzed
// parts of a query: the output never contains it.
func FuzzQuerySecret(f *testing.F) {
	f.Add("a=1", uint8(0), "b=2", uint8(0))
	f.Add("", uint8(2), "", uint8(1))
	f.Add("x=%", uint8(7), "#frag", uint8(2))
	f.Fuzz(func(t *testing.T, before string, which uint8, after string, sep uint8) {
		if strings.Contains(before+after, plantedSecret[:4]) {
			return
		}
		name := sensitiveSamples[int(which)%len(sensitiveSamples)]
		s := [...]string{"&", ";", "#"}[int(sep)%3]
		q := before + s + name + "=" + plantedSecret + s + after
		if out := Query(q); strings.Contains(out, plantedSecret[:4]) {
			t.Fatalf("Query(%q) = %q kept the secret", q, out)
		}
	})
}

// FuzzTextSecret plants a secret in a URL inside fuzzed free text, as an
// error or a header quotes one: the output never contains it, and Text
// never panics and changes nothing on a second pass.
func FuzzTextSecret(f *testing.F) {
	f.Add(`Get "http://h/p`, uint8(0), "", `": EOF`, uint8(0))
	f.Add("Location: /cb", uint8(3), "x=1", " tail", uint8(1))
	f.Add("", uint8(5), "", "", uint8(2))
	f.Add(`\`, uint8(1), `\"`, `\`, uint8(3))
	f.Fuzz(func(t *testing.T, before string, which uint8, mid, after string, sep uint8) {
		if strings.Contains(before+mid+after, plantedSecret[:4]) {
			return
		}
		name := sensitiveSamples[int(which)%len(sensitiveSamples)]
		s := [...]string{"?", "&", ";", "#", " ", `"`, "?" + mid + "&"}[int(sep)%7]
		text := before + s + name + "=" + plantedSecret + "&" + after
		out := Text(text)
		if strings.Contains(out, plantedSecret[:4]) {
			t.Fatalf("Text(%q) = %q kept the secret", text, out)
		}
		if again := Text(out); again != out {
			t.Fatalf("Text(%q) = %q, again %q", text, out, again)
		}
		_ = ErrorText(before + mid + after)
	})
}
