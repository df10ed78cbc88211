package lua

import (
	"context"
	"errors"
	"strings"
	"testing"

	glua "github.com/yuin/gopher-lua"
)

// Older names Nauthilus's shipped scripts call (backend_result, the v1.3
// nauthilus_builtin functions, 1.0's nginx names) and
// BACKEND_RESULT_ERROR, with testdata/modules/legacy_names_*.lua.

func TestLegacyNamesInFilter(t *testing.T) {
	// Twice on one state: the aliases read the current run.
	legacyFilterRuns(t, "legacy_names_filter.lua", func(user string, out *FilterOutcome) {
		if out.Attributes["Legacy-Names"] != user {
			t.Errorf("%s: attributes %v", user, out.Attributes)
		}
		if len(out.Remove) != 1 || out.Remove[0] != "Proxy-Host" {
			t.Errorf("%s: remove %v", user, out.Remove)
		}
	})
}

func TestBackendResultError(t *testing.T) {
	logs := &syncBuffer{}
	e, err := NewEngine(Options{Logger: newTestLogger(logs)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ps, err := e.NewPasswordScript(policyScript(t, "legacy_names_password.lua"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		user, password                string
		ok, isError, found, authentic bool
		returned                      string
	}{
		{user: "alice", password: "right", ok: true, found: true, authentic: true},
		{user: "alice", password: "wrong", isError: true},
		// Hostile: ERROR with a result object that claims a login.
		{user: "error-claims-auth", password: "wrong", isError: true, found: true},
		{user: "fail", password: "wrong", returned: "BACKEND_RESULT_FAIL"},
	} {
		res, err := ps.Verify(context.Background(), legacyRequest(c.user, c.password))
		if err != nil {
			t.Fatalf("%s: %v", c.user, err)
		}
		if res.OK != c.ok || res.Error != c.isError || res.UserFound != c.found || res.Authenticated != c.authentic || res.Returned != c.returned {
			t.Errorf("%s/%s: %+v", c.user, c.password, res)
		}
	}
	if !strings.Contains(logs.String(), "returned BACKEND_RESULT_ERROR") || strings.Contains(logs.String(), "unexpected_status") {
		t.Errorf("log: %s", logs.String())
	}
	_, err = ps.ListAccounts(context.Background(), &Request{})
	var se *ScriptError
	if !errors.As(err, &se) || !strings.Contains(se.Msg, "returned BACKEND_RESULT_ERROR, not BACKEND_RESULT_OK") {
		t.Errorf("list accounts: %v", err)
	}
}

// TestLegacyUtilComparePasswords: Nauthilus 1.0's backend.lua calls
// compare_passwords on nauthilus_util (testdata/modules/legacy_util_compare.lua).
func TestLegacyUtilComparePasswords(t *testing.T) {
	e, err := NewEngine(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ps, err := e.NewPasswordScript(policyScript(t, "legacy_util_compare.lua"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		user, password   string
		found, authentic bool
	}{
		{user: "alice", password: "right-password", found: true, authentic: true},
		{user: "alice", password: "wrong-password", found: true},
		// Hostile: an empty password is a mismatch like any other.
		{user: "alice", password: "", found: true},
		{user: "nobody", password: "right-password"},
	} {
		res, err := ps.Verify(context.Background(), legacyRequest(c.user, c.password))
		if err != nil {
			t.Fatalf("%s/%s: %v", c.user, c.password, err)
		}
		if !res.OK || res.UserFound != c.found || res.Authenticated != c.authentic {
			t.Errorf("%s/%s: %+v", c.user, c.password, res)
		}
	}
	// Hostile: a stored value that is no hash is an error naming the
	// problem, never the password or the stored value.
	_, err = ps.Verify(context.Background(), legacyRequest("broken", "right-password"))
	var se *ScriptError
	if !errors.As(err, &se) || strings.Contains(se.Msg, "right-password") || !strings.Contains(se.Msg, "compare") {
		t.Errorf("broken row: %v", err)
	}
}

// A script's first return value reaches a tempfail's message: control
// characters are replaced and a long value is cut.
func TestBackendCodeNameHostile(t *testing.T) {
	got := backendCodeName(glua.LString("x\r\n250 OK" + strings.Repeat("a", 100)))
	if strings.ContainsAny(got, "\r\n") || len(got) > 60 {
		t.Errorf("backendCodeName = %q", got)
	}
}
