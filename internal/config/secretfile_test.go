package config

import (
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/testutil"
)

func TestPasswordFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, content, want string
	}{
		{"trailing newline trimmed", "s3cret\n", "s3cret"},
		{"CRLF trimmed", "s3cret\r\n", "s3cret"},
		{"only one newline trimmed", "s3cret\n\n", "s3cret\n"},
		{"no newline", "s3cret", "s3cret"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "pw"+string(rune('a'+i)))
			writeFile(t, path, tt.content)
			got, err := ReadSecretFile(path)
			if err != nil || got != tt.want {
				t.Errorf("ReadSecretFile = %q, %v; want %q", got, err, tt.want)
			}
		})
	}

	path := filepath.Join(dir, "healthcheck")
	writeFile(t, path, "from-file-pw\n")
	tg := firstTarget(t, imapTarget("tls: true\ndeep_check: true\ntest_username: u\ntest_password_file: "+path))
	if tg.TestPassword != "from-file-pw" || tg.TestPasswordFile != path {
		t.Errorf("password, file = %q, %q", tg.TestPassword, tg.TestPasswordFile)
	}
}

func TestPasswordFileErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	writeFile(t, empty, "\n")
	spaced := filepath.Join(dir, "spaced")
	writeFile(t, spaced, "two words\n")
	good := filepath.Join(dir, "good")
	writeFile(t, good, "pw\n")
	missing := filepath.Join(dir, "missing")

	tests := []struct{ name, extra, want string }{
		{"missing", "test_username: u\ntest_password_file: " + missing,
			tp + `test_password_file (line 11): cannot read "` + missing + `": no such file or directory`},
		{"directory", "test_username: u\ntest_password_file: " + dir,
			tp + `test_password_file (line 11): cannot read "` + dir + `": is a directory`},
		{"empty", "test_username: u\ntest_password_file: " + empty,
			tp + `test_password_file (line 11): file "` + empty + `" is empty`},
		{"whitespace", "test_username: u\ntest_password_file: " + spaced,
			tp + "test_password_file (line 11): must not contain whitespace"},
		{"both", "test_username: u\ntest_password: pw\ntest_password_file: " + good,
			tp + "test_password_file (line 12): set either test_password or test_password_file, not both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantOnlyError(t, imapTarget("tls: true\n"+tt.extra), tt.want)
		})
	}
}

func TestPasswordFileUnreadable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "locked")
	writeFile(t, path, "unique-locked-secret\n")
	if err := os.Chmod(path, 0); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// root reads a mode-0 file, so make it unreadable by removing it.
		t.Log("running as root: checking a removed file instead of a mode-0 one")
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	}
	got := parseErrors(t, imapTarget("tls: true\ntest_username: u\ntest_password_file: "+path))
	if len(got) != 1 || !strings.Contains(got[0], path) || strings.Contains(got[0], "unique-locked-secret") {
		t.Errorf("errors = %q; want one naming %s without the content", got, path)
	}
}

func TestCAFile(t *testing.T) {
	dir := t.TempDir()
	ca := testutil.NewPKI(t).WriteCA(t, dir)
	noPEM := filepath.Join(dir, "nopem")
	writeFile(t, noPEM, "not a certificate\n")
	keyOnly := filepath.Join(dir, "key.pem")
	writeFile(t, keyOnly, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}})))
	broken := filepath.Join(dir, "broken.pem")
	writeFile(t, broken, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2, 3}})))
	missing := filepath.Join(dir, "missing.pem")

	tg := firstTarget(t, imapTarget("tls: true\ntls_ca_file: "+ca))
	if tg.TLSCAFile != ca {
		t.Errorf("tls_ca_file = %q", tg.TLSCAFile)
	}
	// A bundle whose first block is a key still counts if a certificate follows.
	bundle := filepath.Join(dir, "bundle.pem")
	caPEM, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, bundle, "# comment\n"+string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}}))+string(caPEM))
	firstTarget(t, imapTarget("tls: true\ntls_ca_file: "+bundle))

	tests := []struct{ name, file, want string }{
		{"missing", missing, `cannot read "` + missing + `": no such file or directory`},
		{"no PEM", noPEM, `file "` + noPEM + `" contains no PEM certificate`},
		{"key only", keyOnly, `file "` + keyOnly + `" contains no PEM certificate`},
		{"broken certificate", broken, `file "` + broken + `" holds a certificate that does not parse: x509: malformed certificate`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantOnlyError(t, imapTarget("tls: true\ntls_ca_file: "+tt.file), tp+"tls_ca_file (line 10): "+tt.want)
		})
	}
}

// A secret, key or config path that names a device or a huge file must
// fail fast, not read until memory runs out.
func TestFileReadsAreBounded(t *testing.T) {
	dir := t.TempDir()
	huge := func(name string, size int64) string {
		path := filepath.Join(dir, name)
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := f.Truncate(size); err != nil { // sparse: no disk used
			t.Fatal(err)
		}
		return path
	}
	bigSecret := huge("secret", MaxSecretFileSize+1)
	bigPEM := huge("pem", MaxPEMFileSize+1)
	bigConfig := huge("config", MaxConfigFileSize+1)
	check := func(name string, f func() error, want string) {
		t.Helper()
		done := make(chan error, 1)
		go func() { done <- f() }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %v, want one containing %q", name, err, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: still reading after 10s", name)
		}
	}
	check("big secret", func() error { _, err := ReadSecretFile(bigSecret); return err }, `file "`+bigSecret+`" is larger than 64 KiB`)
	check("big CA", func() error { return CheckCAFile(bigPEM) }, `file "`+bigPEM+`" is larger than 1024 KiB`)
	check("big client key", func() error {
		_, err := (&BackendTLS{ClientCertificateFile: bigPEM, ClientPrivateKeyFile: bigPEM}).LoadClientCertificate()
		return err
	}, `file "`+bigPEM+`" is larger than 1024 KiB`)
	check("big config", func() error { _, err := Load(bigConfig); return err }, `file "`+bigConfig+`" is larger than 1024 KiB`)

	check("big document", func() error { _, err := Parse(make([]byte, MaxConfigFileSize+1)); return err }, "(file): is larger than 1024 KiB")

	if _, err := os.Stat("/dev/zero"); err != nil {
		return
	}
	check("device as secret", func() error { _, err := ReadSecretFile("/dev/zero"); return err }, `"/dev/zero" is not a regular file`)
	check("device as CA", func() error { return CheckCAFile("/dev/zero") }, `"/dev/zero" is not a regular file`)
	check("device as config", func() error { _, err := Load("/dev/zero"); return err }, `file "/dev/zero" is larger than 1024 KiB`)
	wantError(t, imapTarget("tls: true\ndeep_check: true\ntest_username: u\ntest_password_file: /dev/zero"),
		tp+`test_password_file (line 12): "/dev/zero" is not a regular file`)
}

// TestSharedFilesAreReadOnce: thousands of targets naming one 1 MiB CA
// bundle and one password file used to read them once per target.
func TestSharedFilesAreReadOnce(t *testing.T) {
	dir := t.TempDir()
	ca := readFile(t, testutil.NewPKI(t).WriteCA(t, dir))
	bundle := filepath.Join(dir, "bundle.pem")
	writeFile(t, bundle, strings.Repeat(ca, (MaxPEMFileSize-1)/len(ca)))
	pw := filepath.Join(dir, "pw")
	writeFile(t, pw, "pw\n")
	var b strings.Builder
	fmt.Fprintf(&b, "- {protocol: imap, host: 127.0.0.1, port: 1, tls: true, tls_ca_file: &ca %s, deep_check: true, test_username: u, test_password_file: &pw %s}\n", bundle, pw)
	for port := 2; port <= 5000; port++ {
		fmt.Fprintf(&b, "- {protocol: imap, host: 127.0.0.1, port: %d, tls: true, tls_ca_file: *ca, deep_check: true, test_username: u, test_password_file: *pw}\n", port)
	}
	before := filesRead.Load()
	if got := parseWithin(t, withTargets(b.String()), 60*time.Second); got != nil {
		t.Fatalf("errors: %q", got[:min(len(got), 3)])
	}
	// The CA bundle and the password file, each once (no wall-clock bound:
	// it flaked under -race on a loaded machine).
	if reads := filesRead.Load() - before; reads != 2 {
		t.Errorf("Parse read %d files, want 2 (each shared file once)", reads)
	}
}
