package passwdfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkLoad100kUsers: what config validation adds to check, serve's
// start and each reload (the auth passdb reads the file once more).
func BenchmarkLoad100kUsers(b *testing.B) {
	var sb strings.Builder
	for i := range 100_000 {
		fmt.Fprintf(&sb, "user%06d@example.org:{SHA512-CRYPT}$6$saltsaltsaltsalt$%086d::::::quota=1G\n", i, i)
	}
	path := filepath.Join(b.TempDir(), "users")
	if err := os.WriteFile(path, []byte(sb.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(sb.Len()))
	for b.Loop() {
		if _, err := Load(path); err != nil {
			b.Fatal(err)
		}
	}
}
