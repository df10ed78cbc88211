package integration

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/backline/backline/internal/testfixture"
)

const dovecotRecipe = "dovecot-proxy.md"

// TestRecipeDovecotProxy runs docs/recipes/dovecot-proxy.md: the recipe's
// backline.yml (addresses, ports and paths changed) where the fixture's
// Dovecot proxy sends its Lua passdb requests, and IMAP and POP3 logins
// through that proxy to Dovecot A (192.0.2.11 in the recipe) and B.
func TestRecipeDovecotProxy(t *testing.T) {
	f := testfixture.Load(t)
	user, pw := f.AliceUser, f.AlicePassword
	dir := t.TempDir()
	apiPW, err := os.ReadFile(f.Get("DOVECOT_PROXY_API_PASSWORD_FILE"))
	if err != nil {
		t.Fatal(err)
	}
	users := filepath.Join(dir, "users.passwd")
	writeFile(t, users, fmt.Sprintf("%s:{PLAIN}%s\n", user, pw))
	port := func(key string) string { return strconv.Itoa(f.Port(key)) }
	addr := "127.0.0.1:" + f.Get("DOVECOT_PROXY_BACKLINE_PORT")
	cfg := recipeSubst(t, recipeBlock(t, dovecotRecipe, "backline.yml"),
		"127.0.0.1:9080", addr,
		"username: dovecot-proxy", "username: "+f.Get("DOVECOT_PROXY_API_USER"),
		"/etc/backline/api-password", f.Get("DOVECOT_PROXY_API_PASSWORD_FILE"),
		"/etc/backline/users.passwd", users,
		"host: 192.0.2.11, port: 143}", "host: 127.0.0.1, port: "+port("DOVECOT_A_IMAP")+"}",
		"host: 192.0.2.12, port: 143}", "host: 127.0.0.1, port: "+port("DOVECOT_B_IMAP")+"}",
		"host: 192.0.2.11, port: 110}", "host: 127.0.0.1, port: "+port("DOVECOT_A_POP3")+"}",
		"host: 192.0.2.12, port: 110}", "host: 127.0.0.1, port: "+port("DOVECOT_B_POP3")+"}",
	)
	bl := serveBackline(t, buildBackline(t), dir, addr, f.Get("DOVECOT_PROXY_API_USER"),
		strings.TrimSpace(string(apiPW)), cfg, pw)
	bl.waitHealthy("a-imap", "b-imap", "a-pop3", "b-pop3")

	proxyIMAP, proxyPOP3 := f.Addr("DOVECOT_PROXY_IMAP"), f.Addr("DOVECOT_PROXY_POP3")
	instanceOf := map[string]string{
		port("DOVECOT_A_IMAP"): "DOVECOT_A", port("DOVECOT_B_IMAP"): "DOVECOT_B",
		port("DOVECOT_A_POP3"): "DOVECOT_A", port("DOVECOT_B_POP3"): "DOVECOT_B",
	}
	idOf := map[string]string{
		port("DOVECOT_A_IMAP"): "a-imap", port("DOVECOT_B_IMAP"): "b-imap",
		port("DOVECOT_A_POP3"): "a-pop3", port("DOVECOT_B_POP3"): "b-pop3",
	}
	protocols := []struct {
		name, service string
		login         func()
	}{
		{"imap", "imap-login", func() { imapLogin(t, proxyIMAP, user, pw, "OK") }},
		{"pop3", "pop3-login", func() { pop3Login(t, proxyPOP3, user, pw, "+OK") }},
	}
	loginVia := func(t *testing.T, service, port string, login func()) {
		t.Helper()
		loginThroughDovecotProxy(t, f, instanceOf[port], service, user, port, login)
	}

	t.Run("logins land on the backend backline chose", func(t *testing.T) {
		for _, p := range protocols {
			loginVia(t, p.service, bl.chosenPort(user, pw, p.name), p.login)
		}
	})
	t.Run("wrong password reaches no backend", func(t *testing.T) {
		wrongPasswordStopsAtDovecotProxy(t, f, user,
			func() { imapLogin(t, proxyIMAP, user, "not-"+pw, "NO") },
			func() { pop3Login(t, proxyPOP3, user, "not-"+pw, "-ERR") })
	})
	t.Run("forced down backend fails over to the other", func(t *testing.T) {
		for _, p := range protocols {
			home := bl.chosenPort(user, pw, p.name)
			path := "/api/v1/backends/" + idOf[home] + "/admin"
			if code, body := bl.api(http.MethodPut, path, `{"health":"down","why":"disk replacement"}`); code != http.StatusOK {
				t.Fatalf("PUT %s: %d %s", path, code, body)
			}
			other := bl.chosenPort(user, pw, p.name)
			if other == home {
				t.Fatalf("%s: backline still chooses %s while it is forced down", p.name, idOf[home])
			}
			loginVia(t, p.service, other, p.login)
			if code, body := bl.api(http.MethodDelete, path, ""); code != http.StatusOK {
				t.Fatalf("DELETE %s: %d %s", path, code, body)
			}
			loginVia(t, p.service, home, p.login)
		}
	})
}

// TestRecipeDovecotProxyFiles checks that the recipe shows the files the
// fixture's Dovecot proxy runs: its dovecot.conf lines are in the rendered
// configuration and its Lua script is the fixture's template with the two
// settings filled in.
func TestRecipeDovecotProxyFiles(t *testing.T) {
	f := testfixture.Load(t)
	conf := f.Get("DOVECOT_PROXY_CONF")
	rendered, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, l := range strings.Split(string(rendered), "\n") {
		have[strings.TrimSpace(l)] = true
	}
	block := recipeSubst(t, recipeBlock(t, dovecotRecipe, "dovecot.conf"),
		"/etc/dovecot/backline-auth.lua", filepath.Join(filepath.Dir(conf), "auth.lua"))
	for _, l := range strings.Split(block, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") || l == "}" {
			continue
		}
		if !have[l] {
			t.Errorf("the recipe's dovecot.conf line %q is not in the fixture's %s", l, conf)
		}
	}

	template, err := os.ReadFile("../../scripts/fixture/templates/dovecot-proxy-auth.lua.in")
	if err != nil {
		t.Fatal(err)
	}
	script := recipeSubst(t, recipeBlock(t, dovecotRecipe, "backline-auth.lua"),
		`"http://127.0.0.1:9080/api/v1/auth/json"`, `"@AUTH_URL@"`,
		`"/etc/dovecot/backline-http-auth.secret"`, `"@BASIC_AUTH_FILE@"`,
		"-- Settings.\n", "-- Settings (filled in by start.sh).\n",
		"(backline)", "(backline fixture)",
	)
	const code = "local json = require"
	want := string(template)
	if !strings.Contains(script, code) || !strings.Contains(want, code) {
		t.Fatalf("%q is missing from the recipe's or the fixture's script", code)
	}
	got := script[strings.Index(script, code):]
	want = want[strings.Index(want, code):]
	if got != want {
		t.Errorf("the recipe's Lua script differs from scripts/fixture/templates/dovecot-proxy-auth.lua.in (after its header comment); update the recipe.\n%s", firstDiff(got, want))
	}
}

// firstDiff names the first line where got and want differ.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) && i < len(w); i++ {
		if g[i] != w[i] {
			return fmt.Sprintf("line %d: recipe %q, fixture %q", i+1, g[i], w[i])
		}
	}
	return fmt.Sprintf("recipe %d lines, fixture %d lines", len(g), len(w))
}
