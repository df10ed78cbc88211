package probe

import (
	"strings"
	"testing"
)

// FuzzReplaceFold: no case of the secret survives in the result, and a
// line without it comes back unchanged.
func FuzzReplaceFold(f *testing.F) {
	f.Add("-ERR UNKNOWN S3CRET x s3cret", "s3Cret")
	f.Add("aaaa", "aa")
	f.Add("\xff\xfeA", "a")
	f.Fuzz(func(t *testing.T, line, secret string) {
		if secret == "" || strings.Contains(strings.ToLower(redacted), strings.ToLower(secret)) {
			return
		}
		got := replaceFold(line, secret, redacted)
		if strings.Contains(lowerASCIIString(got), lowerASCIIString(secret)) {
			t.Fatalf("replaceFold(%q, %q) = %q", line, secret, got)
		}
		if !strings.Contains(lowerASCIIString(line), lowerASCIIString(secret)) && got != line {
			t.Fatalf("changed a line without the secret: %q -> %q", line, got)
		}
		// secretStartAtEnd against the obvious quadratic scan.
		want := 0
		for k := min(len(secret)-1, len(line)); k > 0; k-- {
			if lowerASCIIString(line[len(line)-k:]) == lowerASCIIString(secret[:k]) {
				want = k
				break
			}
		}
		if got := secretStartAtEnd(line, secret); got != want {
			t.Fatalf("secretStartAtEnd(%q, %q) = %d, want %d", line, secret, got, want)
		}
	})
}
