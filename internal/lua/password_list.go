package lua

import (
	"context"
	"errors"
	"fmt"
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// ErrNoListAccounts says a password script defines no
// nauthilus_backend_list_accounts: it cannot list its accounts.
var ErrNoListAccounts = errors.New("the script defines no nauthilus_backend_list_accounts")

var listAccountsEntries = []string{"nauthilus_backend_list_accounts"}

// ListAccounts calls nauthilus_backend_list_accounts(), which returns
// (BACKEND_RESULT_OK, {"account", ...}) in Nauthilus's scripts. Values that
// are not strings are skipped; a code other than 0 is an error.
// A script found without the function is remembered: the script is
// compiled once, and asking again would only fail again (and log).
func (p *PasswordScript) ListAccounts(ctx context.Context, req *Request) ([]string, error) {
	names, _, err := p.ListAccountsLogged(ctx, req)
	return names, err
}

// ListAccountsLogged is ListAccounts that also returns the run's
// custom_log_add entries (scrubbed as every run's are), for the request's
// log line; they are returned with a script's bad answer too, not with a
// failed run.
func (p *PasswordScript) ListAccountsLogged(ctx context.Context, req *Request) ([]string, []LogField, error) {
	if p.noListAccounts.Load() {
		return nil, nil, ErrNoListAccounts
	}
	r, code, list, err := p.engine.runScript(ctx, p.script, kindPassword, req, listAccountsEntries)
	if err != nil {
		var se *ScriptError
		// runScript words a missing entry function this way (run.go).
		if errors.As(err, &se) && strings.Contains(se.Msg, "entry function '"+listAccountsEntries[0]+"' is not defined") {
			p.noListAccounts.Store(true)
			return nil, nil, ErrNoListAccounts
		}
		return nil, nil, err
	}
	logs := append([]LogField(nil), r.logs...)
	if n, ok := code.(glua.LNumber); !ok || n != BackendResultOK {
		// BACKEND_RESULT_ERROR too: an empty list would read as "no accounts".
		return nil, logs, &ScriptError{Script: p.script.name, Msg: fmt.Sprintf("nauthilus_backend_list_accounts returned %s, not BACKEND_RESULT_OK", backendCodeName(code))}
	}
	t, ok := list.(*glua.LTable)
	if !ok {
		if list == glua.LNil {
			return nil, logs, nil
		}
		return nil, logs, &ScriptError{Script: p.script.name, Msg: "nauthilus_backend_list_accounts: second return value must be a table of account names, got " + list.Type().String()}
	}
	var out []string
	for i := 1; i <= t.Len(); i++ {
		if s, ok := t.RawGetInt(i).(glua.LString); ok && s != "" {
			out = append(out, string(s))
		}
	}
	return out, logs, nil
}
