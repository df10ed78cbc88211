package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/backline/backline/internal/lua"
)

// luaFilters runs lua.filters through the engine.
type luaFilters struct{ engine *lua.Engine }

func toLuaRequest(req *Request, session string) *lua.Request {
	return &lua.Request{
		Username:         req.Username,
		Password:         req.Password,
		Protocol:         req.Protocol,
		Service:          req.Service,
		Method:           req.Method,
		ClientIP:         req.ClientIP,
		ClientPort:       req.ClientPort,
		ClientHost:       req.ClientHost,
		ClientID:         req.ClientID,
		LocalIP:          req.LocalIP,
		LocalPort:        req.LocalPort,
		Session:          session,
		NoAuth:           req.NoAuth,
		AuthLoginAttempt: req.AuthLoginAttempt,
		SSL:              req.SSL,
		Context:          req.luaRequestContext(),
		HTTP:             req.http,
	}
}

// luaRequestContext is the request's nauthilus_context store, made once.
func (req *Request) luaRequestContext() *lua.RequestContext {
	if req.luaContext == nil {
		req.luaContext = lua.NewRequestContext()
	}
	return req.luaContext
}

func (l luaFilters) runFilters(ctx context.Context, fr filterRequest) (*filterOutcome, error) {
	lr := toLuaRequest(fr.Request, fr.Session)
	lr.Authenticated, lr.UserFound, lr.Account = fr.Authenticated, fr.UserFound, fr.Account
	lr.Snapshot = fr.Snapshot
	lr.DryRun = fr.DryRun
	if lr.Account != "" {
		lr.AccountField = "account"
	}
	if l.engine.FilterCount(lr) == 0 {
		return nil, nil
	}
	out, err := l.engine.RunFilters(ctx, lr)
	if err != nil {
		return nil, err
	}
	if out == nil {
		return nil, nil
	}
	fo := &filterOutcome{
		Reject:        out.Reject,
		Attributes:    out.Attributes,
		Remove:        out.Remove,
		StatusMessage: out.StatusMessage,
		Results:       out.Results,
		Rejected:      out.Rejected,
		Suppressed:    out.Suppressed,
	}
	if out.Selected != nil {
		fo.SelectedHost, fo.SelectedPort, fo.SelectedBy = out.Selected.Host, out.Selected.Port, out.SelectedBy
	}
	fo.LogFields = logPairs(out.Logs)
	return fo, nil
}

// logPairs flattens custom_log_add entries into the key, value pairs the
// request log line takes.
func logPairs(logs []lua.LogField) []any {
	if len(logs) == 0 {
		return nil
	}
	out := make([]any, 0, 2*len(logs))
	for _, f := range logs {
		out = append(out, f.Key, f.Value)
	}
	return out
}

// luaScripts loads type lua password databases.
type luaScripts struct{ engine *lua.Engine }

func (l luaScripts) newPasswordScript(label, path string) (passdb, error) {
	s, err := l.engine.NewPasswordScript(path)
	if err != nil {
		return nil, err
	}
	return &luaPassdb{label: label, script: s}, nil
}

// luaPassdb is a Lua backend script (nauthilus_backend_verify_password).
type luaPassdb struct {
	label  string
	script *lua.PasswordScript
}

// errLuaBackendFailed: the script returned BACKEND_RESULT_FAIL or anything
// but OK and ERROR (nil, another number): it has not answered, so tempfail.
var errLuaBackendFailed = errors.New("lua password script failed")

func (p *luaPassdb) name() string { return p.label }

func (p *luaPassdb) check(ctx context.Context, req *Request) (passResult, error) {
	res, err := p.script.Verify(ctx, toLuaRequest(req, ""))
	if err != nil {
		return passResult{}, err
	}
	if !res.OK && !res.Error {
		// The tempfail's log line still shows what the script logged.
		return passResult{LogFields: logPairs(res.Logs)}, fmt.Errorf("%w: it returned %s, not BACKEND_RESULT_OK", errLuaBackendFailed, res.Returned)
	}
	// BACKEND_RESULT_ERROR: Verify has made it unauthenticated; user_found
	// passes to the next database or fails the login, as in Nauthilus.
	out := passResult{
		DB: p.label, Backend: backendLua,
		UserFound: res.UserFound, Authenticated: res.UserFound && res.Authenticated,
		AccountField: res.AccountField, LogFields: logPairs(res.Logs),
	}
	if len(res.Attributes) > 0 {
		out.Attributes = make(Attributes, len(res.Attributes))
		for k, v := range res.Attributes {
			if list, ok := v.([]any); ok {
				out.Attributes[k] = list
			} else {
				out.Attributes[k] = []any{v}
			}
		}
	}
	if vals := out.Attributes[res.AccountField]; res.AccountField != "" && len(vals) > 0 {
		out.Account = fmt.Sprint(vals[0])
	}
	return out, nil
}
