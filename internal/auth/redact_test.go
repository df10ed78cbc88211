package auth

import (
	"net/http"
	"strings"
	"testing"

	"github.com/backline/backline/internal/config"
)

// TestPasswordNeverLeavesInAnswers: whatever a filter or password database
// puts into an answer, a value equal to the request's password is withheld,
// with a WARN that does not repeat it. (env.do fails the test on any answer
// header or body that carries the password.)
func TestPasswordNeverLeavesInAnswers(t *testing.T) {
	leaky := &fakeFilters{fn: func(fr filterRequest) (*filterOutcome, error) {
		out := &filterOutcome{
			Attributes: map[string]any{
				"echo":     fr.Password,
				"nested":   []any{"a", map[string]any{"k": fr.Password}},
				"harmless": "keep-me",
			},
			LogFields: []any{"seen", "pw=" + fr.Password, "fine", "ok"},
		}
		if fr.Username == "bob" {
			out.Reject, out.StatusMessage, out.Rejected = true, "your password "+fr.Password+" is banned", []string{"leak"}
		}
		return out, nil
	}}
	env := newEnv(t, func(c *config.Config, o *Options) {
		o.filters = leaky
		c.Auth.Passdb = append([]config.Passdb{{Type: config.PassdbPasswdFile, Path: writePasswd(t,
			"carol:{PLAIN}"+testPassword+"::::::hint="+testPassword+" home=/home/carol",
			"dave:{PLAIN}"+testPassword+"::::::user="+testPassword)}}, c.Auth.Passdb...)
	})

	for _, endpoint := range []string{"header", "json", "nginx"} {
		r := nginxRequest("carol", testPassword, "imap", "1")
		r.URL.Path = "/api/v1/auth/" + endpoint
		if endpoint == "json" {
			r = jsonRequestFor(http.MethodPost, `{"username":"carol","password":"`+testPassword+`","protocol":"imap"}`)
		}
		w := env.do(r)
		if w.Header().Get("Auth-Status") != "OK" {
			t.Errorf("%s: %d %v", endpoint, w.Code, w.Header())
		}
		if endpoint == "header" && (w.Header().Get("X-Nauthilus-Harmless") != "keep-me" || w.Header().Get("X-Nauthilus-Home") != "/home/carol") {
			t.Errorf("header: other attributes lost: %v", w.Header())
		}
		if endpoint == "json" && !strings.Contains(w.Body.String(), `"harmless":["keep-me"]`) {
			t.Errorf("json: other attributes lost: %s", w.Body.String())
		}
	}

	// A status message that contains the password becomes the failure message.
	w := env.do(headerRequest("bob", bobPassword, "imap"))
	if got := w.Header().Get("Auth-Status"); got != config.DefaultFailureMessage {
		t.Errorf("status message %q, want the failure message", got)
	}

	// An account name equal to the password cannot be echoed: tempfail.
	w = env.do(headerRequest("dave", testPassword, "imap"))
	if w.Code != http.StatusInternalServerError {
		t.Errorf("account equal to the password: %d %v", w.Code, w.Header())
	}

	logs := env.logs.String()
	for _, want := range []string{
		`level=WARN msg="password withheld from the answer" session=`,
		`what=attribute name=echo`, `what=attribute name=nested`, `what=attribute name=hint`,
		`what=status_message`, `what=account`, `what=log_field name=seen`, `lua_seen=[redacted]`, `lua_fine=ok`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

// TestPasswordEqualToUserNameIsNotWithheld: a user whose password is the
// user name gets the name echoed; withholding it would reveal nothing and
// break the login.
func TestPasswordEqualToUserNameIsNotWithheld(t *testing.T) {
	env := newEnv(t, func(c *config.Config, _ *Options) {
		c.Auth.Passdb = []config.Passdb{{Type: config.PassdbPasswdFile, Path: writePasswd(t, "erin:{PLAIN}erin")}}
	})
	w := env.do(headerRequest("erin", "erin", "imap"))
	if w.Header().Get("Auth-Status") != "OK" || w.Header().Get("Auth-User") != "erin" {
		t.Errorf("%d %v", w.Code, w.Header())
	}
}

func TestPasswordInAScriptErrorIsNotLogged(t *testing.T) {
	filters := &fakeFilters{fn: func(fr filterRequest) (*filterOutcome, error) {
		return nil, errString("filter.lua:3: attempt to index " + fr.Password)
	}}
	env := newEnv(t, func(_ *config.Config, o *Options) { o.filters = filters })
	w := env.do(nginxRequest(testUser, testPassword, "imap", "1"))
	if w.Header().Get("Auth-Status") != config.DefaultTempfailMessage {
		t.Errorf("%v", w.Header())
	}
	if !strings.Contains(env.logs.String(), "attempt to index [redacted]") {
		t.Errorf("log:\n%s", env.logs.String())
	}
}
