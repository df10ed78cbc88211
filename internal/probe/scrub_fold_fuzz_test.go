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
	})
}

func lowerASCIIString(s string) string {
	b := []byte(s)
	for i := range b {
		b[i] = lowerASCII(b[i])
	}
	return string(b)
}
