package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/probe"
	"github.com/backline/backline/internal/testfixture"
)

// TestNginxRefusals runs real nginx mail proxies against backline's nginx
// endpoint for the two kinds of refusal: an empty password is a failed
// login (the failure message, as for a wrong one), and a malformed request
// (here nginx configured to send a second Auth-User) gets its reason as
// Auth-Status with HTTP 200. nginx reads both as an ordinary refusal: the
// client gets NO with the text, and nginx never logs the auth server as
// broken ("did not send server or port", "invalid response").
func TestNginxRefusals(t *testing.T) {
	f := testfixture.Load(t)
	dir := t.TempDir()
	passwd := filepath.Join(dir, "passwd")
	writeFile(t, passwd, f.AliceUser+":{PLAIN}"+f.AlicePassword+"\n")
	hs := newMailHealth(&probe.Target{Name: "a-imap", Protocol: "imap", Host: f.Host, Port: f.Port("DOVECOT_A_IMAP"), TLSMode: probe.TLSPlain})
	cfg := &config.Config{}
	cfg.Auth.Passdb = []config.Passdb{{Type: config.PassdbPasswdFile, Path: passwd}}
	cfg.Auth.Nginx.FailureMessage = nginxFailMessage
	logs := &lockedBuffer{}
	sw := &swapHandler{}
	sw.set(newAuthHandler(t, cfg, hs, logs))
	answers := &answerLog{next: sw}
	authAddr := serveAuth(t, answers)

	t.Run("empty password", func(t *testing.T) {
		nginxDir := t.TempDir()
		imapAddr, _ := startNginx(t, nginxDir, authAddr)
		if l := imapLogin(t, imapAddr, f.AliceUser, "", "NO"); !strings.Contains(l, nginxFailMessage) {
			t.Errorf("LOGIN with an empty password: %q, want NO %s", l, nginxFailMessage)
		}
		assertNginxTookTheAnswer(t, nginxDir)
		// A real login through the same nginx still works.
		imapLogin(t, imapAddr, f.AliceUser, f.AlicePassword, "OK")
	})

	t.Run("malformed request", func(t *testing.T) {
		nginxDir := t.TempDir()
		imapAddr, _ := startNginxWith(t, nginxDir, authAddr, "auth_http_header Auth-User intruder;")
		asked := len(answers.all())
		const reason = "header Auth-User is sent 2 times; send it once"
		if l := imapLogin(t, imapAddr, f.AliceUser, f.AlicePassword, "NO"); !strings.Contains(l, reason) {
			t.Errorf("LOGIN through a misconfigured nginx: %q, want NO %s", l, reason)
		}
		got := answers.all()[asked:]
		if len(got) != 1 || got[0].Get("Auth-Status") != reason || got[0].Get("Auth-Server") != "" {
			t.Errorf("backline's answers to nginx: %v, want one refusal with the reason", got)
		}
		assertNginxTookTheAnswer(t, nginxDir)
	})
	if strings.Contains(logs.String(), f.AlicePassword) {
		t.Error("backline logged the password")
	}
}

// assertNginxTookTheAnswer fails if nginx's error log calls backline's
// answer broken.
func assertNginxTookTheAnswer(t *testing.T, nginxDir string) {
	t.Helper()
	errLog, _ := os.ReadFile(filepath.Join(nginxDir, "error.log"))
	for _, broken := range []string{"did not send server or port", "invalid response", "auth http server"} {
		if strings.Contains(string(errLog), broken) {
			t.Errorf("nginx logged %q:\n%s", broken, errLog)
		}
	}
}
