package lua

import (
	"context"
	"fmt"
	"maps"
	"sync/atomic"

	glua "github.com/yuin/gopher-lua"
)

// PasswordScript is a compiled Lua password backend (a passdb of type lua).
type PasswordScript struct {
	engine *Engine
	script *script
	// noListAccounts: the script has no nauthilus_backend_list_accounts.
	noListAccounts atomic.Bool
}

// The result codes a password script returns first, as
// nauthilus_builtin.BACKEND_RESULT_*. Nauthilus documents OK (0) and FAIL
// (1) only; BACKEND_RESULT_ERROR is used by its own proxy_backend.lua but
// defined nowhere in Nauthilus (nil there, which Nauthilus reads as 0), so
// backline gives it a value of its own. See docs/nauthilus.md.
const (
	BackendResultOK    = 0
	BackendResultFail  = 1
	BackendResultError = 2
)

// BackendResult is what nauthilus_backend_verify_password returned.
type BackendResult struct {
	// OK is the first return value == BACKEND_RESULT_OK (0).
	OK bool
	// Error is the first return value == BACKEND_RESULT_ERROR: the script
	// could not verify (its upstream failed or refused); the result object
	// still says user_found, and the login is never authenticated.
	Error bool
	// Returned names the first return value when it is neither OK nor
	// ERROR (for the tempfail's message).
	Returned          string
	Authenticated     bool
	UserFound         bool
	AccountField      string
	TOTPSecretField   string
	TOTPRecoveryField string
	UniqueUserIDField string
	DisplayNameField  string
	Attributes        map[string]any
	Groups            []string
	GroupDNs          []string
	// Logs are the run's custom_log_add entries in call order, already
	// scrubbed of the request password (run.go). They are kept for every
	// answer the script gave (FAIL and ERROR too): a failed login is where
	// an operator looks for them.
	Logs []LogField
}

// NewPasswordScript compiles path once; it runs on the engine's state pool.
// Its nauthilus_backend offers only the read-only functions
// (get_backend_servers, get_backend_servers_status, check_backend_connection);
// the routing ones raise an error, since only filters route.
func (e *Engine) NewPasswordScript(path string) (*PasswordScript, error) {
	s, err := compile(path, path)
	if err == nil {
		err = e.checkRedisAvailable(s)
	}
	if err != nil {
		return nil, err
	}
	e.files.addScript(path)
	return &PasswordScript{engine: e, script: s}, nil
}

var passwordEntries = []string{"nauthilus_backend_verify_password"}

// Verify calls nauthilus_backend_verify_password(request), which returns
// (code, result). An error means tempfail.
func (p *PasswordScript) Verify(ctx context.Context, req *Request) (*BackendResult, error) {
	r, code, result, err := p.engine.runScript(ctx, p.script, kindPassword, req.withContext(), passwordEntries)
	if err != nil {
		return nil, err
	}
	req.Context.mergeOverlays(r)
	// Only an explicit 0 is success: a script that returns nothing has not
	// vouched for the password.
	n, isNumber := code.(glua.LNumber)
	out := &BackendResult{OK: isNumber && n == BackendResultOK, Error: isNumber && n == BackendResultError, Attributes: map[string]any{}}
	out.Logs = append([]LogField(nil), r.logs...)
	if !out.OK && !out.Error {
		out.Returned = backendCodeName(code)
	}
	switch x := result.(type) {
	case *glua.LNilType:
	case *glua.LUserData:
		res, ok := x.Value.(*backendResult)
		if !ok {
			return nil, &ScriptError{Script: p.script.name, Msg: "second return value must be a nauthilus_backend_result"}
		}
		out.Authenticated, out.UserFound = res.Authenticated, res.UserFound
		out.AccountField, out.TOTPSecretField, out.TOTPRecoveryField = res.AccountField, res.TOTPSecretField, res.TOTPRecoveryField
		out.UniqueUserIDField, out.DisplayNameField = res.UniqueUserIDField, res.DisplayNameField
		out.Attributes = maps.Clone(res.Attributes)
		if out.Attributes == nil {
			out.Attributes = map[string]any{}
		}
		out.Groups = append([]string(nil), res.Groups...)
		out.GroupDNs = append([]string(nil), res.GroupDNs...)
	default:
		return nil, &ScriptError{Script: p.script.name, Msg: fmt.Sprintf("second return value must be a nauthilus_backend_result, got %s", result.Type())}
	}
	if out.Error {
		// The script could not verify: never a login, whatever the result
		// object says; user_found still decides whether the next database
		// is asked. Logged because an unreachable upstream looks like a
		// wrong password otherwise (the script's own error attribute may
		// hold upstream text, so it is not logged).
		out.Authenticated = false
		p.engine.logger.Info("Lua password script returned BACKEND_RESULT_ERROR: login not authenticated",
			"script", p.script.name, "user_found", out.UserFound)
	}
	return out, nil
}

// backendCodeName is a script's first return value as a log or error text:
// the constant's name for 1 and 2, else the value and its type.
func backendCodeName(code glua.LValue) string {
	if n, ok := code.(glua.LNumber); ok {
		switch n {
		case BackendResultOK:
			return "BACKEND_RESULT_OK"
		case BackendResultFail:
			return "BACKEND_RESULT_FAIL"
		case BackendResultError:
			return "BACKEND_RESULT_ERROR"
		}
	}
	if code == glua.LNil {
		return "nil"
	}
	// The text goes into a tempfail's message and the log: cut, and
	// control characters (a CR LF) replaced.
	text := code.String()
	if len(text) > 40 {
		text = truncateText(text, 40) + "..."
	} else {
		text = truncateText(text, 40)
	}
	return fmt.Sprintf("%s (%s)", text, code.Type())
}
