package config

import (
	"path/filepath"
	"strings"
	"testing"
)

// uniqueSecret never appears in a message: operators paste errors into
// tickets and chat.
const uniqueSecret = "Uq7-secret-d41d8cd98f"

func TestErrorsAndWarningsNeverContainThePassword(t *testing.T) {
	dir := t.TempDir()
	spacedFile := filepath.Join(dir, "spaced")
	writeFile(t, spacedFile, uniqueSecret+" tail\n")
	goodFile := filepath.Join(dir, "good")
	writeFile(t, goodFile, uniqueSecret+"\n")
	t.Setenv("BACKLINE_TEST_SECRET", uniqueSecret)

	invalid := map[string]string{
		"whitespace":          imapTarget("tls: true\ntest_username: u\ntest_password: '" + uniqueSecret + " x'"),
		"whitespace in file":  imapTarget("tls: true\ntest_username: u\ntest_password_file: " + spacedFile),
		"no username":         imapTarget("test_password: " + uniqueSecret),
		"both":                imapTarget("test_username: u\ntest_password: " + uniqueSecret + "\ntest_password_file: " + goodFile),
		"plaintext":           target("imap", "192.0.2.1", 143, "deep_check: true\ntest_username: u\ntest_password: "+uniqueSecret),
		"plaintext from file": target("imap", "192.0.2.1", 143, "deep_check: true\ntest_username: u\ntest_password_file: "+goodFile),
		"plaintext from env":  target("imap", "192.0.2.1", 143, "deep_check: true\ntest_username: u\ntest_password: ${BACKLINE_TEST_SECRET}"),
		"password as list":    imapTarget("test_username: u\ntest_password: [" + uniqueSecret + "]"),
		"password twice":      imapTarget("test_username: u\ntest_password: " + uniqueSecret + "\ntest_password: " + uniqueSecret),
		"bad mechanism":       imapTarget("tls: true\ntest_username: u\ntest_password: " + uniqueSecret + "\nauth_mechanism: cram-md5"),
		"api password":        "server:\n  api_auth:\n    password: " + uniqueSecret + "\n",
		"api both":            "server:\n  api_auth:\n    username: u\n    password: " + uniqueSecret + "\n    password_file: " + goodFile + "\n",
		"api bearer both":     "server:\n  api_auth:\n    bearer_token: " + uniqueSecret + "\n    bearer_token_file: " + goodFile + "\n",
	}
	for name, yml := range invalid {
		t.Run(name, func(t *testing.T) {
			for _, e := range parseErrors(t, yml) {
				if strings.Contains(e, uniqueSecret) {
					t.Errorf("error reveals the password: %s", e)
				}
			}
		})
	}

	valid := map[string]string{
		"unused credentials": imapTarget("test_username: u\ntest_password: " + uniqueSecret),
		"open listener":      "server:\n  address: 0.0.0.0:9080\n" + imapTarget("tls: true\ndeep_check: true\ntls_skip_verify: true\ntest_username: u\ntest_password: "+uniqueSecret),
	}
	for name, yml := range valid {
		t.Run(name, func(t *testing.T) {
			c := mustParse(t, yml)
			warnings := c.Warnings()
			if len(warnings) == 0 {
				t.Fatal("want at least one warning for this config")
			}
			for _, w := range warnings {
				if strings.Contains(w, uniqueSecret) {
					t.Errorf("warning reveals the password: %s", w)
				}
			}
		})
	}
}
