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

// BackendResult is what nauthilus_backend_verify_password returned.
type BackendResult struct {
	// OK is the first return value == BACKEND_RESULT_OK (0).
	OK                bool
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
	out := &BackendResult{OK: isNumber && n == 0, Attributes: map[string]any{}}
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
	return out, nil
}
