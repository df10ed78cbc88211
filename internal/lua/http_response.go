package lua

import (
	glua "github.com/yuin/gopher-lua"
)

// nauthilus_http_response sets headers and the status of the auth answer
// (spec nauthilus-lua-modules §4.8): bound in filters; in Lua password
// scripts it is the empty placeholder, as in Nauthilus. The body functions
// are for Nauthilus hooks, which backline does not have: they raise.
func init() {
	registerModule(module{
		Name:   "nauthilus_http_response",
		Filter: true,
		Functions: map[string]runFunc{
			"set_http_response_header":    func(r *scriptRun, L *glua.LState) int { return setResponseHeader(r, L, false) },
			"add_http_response_header":    func(r *scriptRun, L *glua.LState) int { return setResponseHeader(r, L, true) },
			"remove_http_response_header": removeResponseHeader,
			"set_http_status":             setHTTPStatus,
			"write_http_response_body":    hookOnly("write_http_response_body"),
			"set_http_content_type":       hookOnly("set_http_content_type"),
			"string":                      hookOnly("string"),
			"html":                        hookOnly("html"),
			"data":                        hookOnly("data"),
			"redirect":                    hookOnly("redirect"),
		},
		Setup: func(v *vm, t *glua.LTable) {
			for name, code := range httpStatusConstants {
				t.RawSetString(name, glua.LNumber(code))
			}
		},
	})
}

var httpStatusConstants = map[string]int{
	"STATUS_OK": 200, "STATUS_CREATED": 201, "STATUS_NO_CONTENT": 204,
	"STATUS_MOVED_PERMANENTLY": 301, "STATUS_FOUND": 302, "STATUS_SEE_OTHER": 303, "STATUS_NOT_MODIFIED": 304,
	"STATUS_BAD_REQUEST": 400, "STATUS_UNAUTHORIZED": 401, "STATUS_FORBIDDEN": 403, "STATUS_NOT_FOUND": 404,
	"STATUS_METHOD_NOT_ALLOWED": 405, "STATUS_CONFLICT": 409, "STATUS_UNSUPPORTED_MEDIA_TYPE": 415,
	"STATUS_TOO_MANY_REQUESTS": 429, "STATUS_INTERNAL_SERVER_ERROR": 500, "STATUS_NOT_IMPLEMENTED": 501,
	"STATUS_BAD_GATEWAY": 502, "STATUS_SERVICE_UNAVAILABLE": 503, "STATUS_GATEWAY_TIMEOUT": 504,
}

func hookOnly(name string) runFunc {
	notImplemented["nauthilus_http_response."+name] = "hooks only (backline has no Lua hooks; raises)"
	return func(_ *scriptRun, L *glua.LState) int {
		L.RaiseError("nauthilus_http_response.%s writes a hook's body; backline has no Lua hooks, and an auth answer's body belongs to the endpoint", name)
		return 0
	}
}

// setResponseHeader raises on a name or value the answer cannot carry
// (CheckResponseHeader) so that a script's mistake shows in its run, not
// as a header silently missing. Outside an HTTP request it does nothing.
//
// The request password (and the targets' test passwords) never reaches the
// answer: they are scrubbed from the value as from logs and metrics.
func setResponseHeader(r *scriptRun, L *glua.LState, add bool) int {
	name, value := L.CheckString(1), r.redact(L.CheckString(2))
	x := r.exchange()
	if x == nil {
		if why := CheckResponseHeader(name, value); why != "" {
			L.RaiseError("%s", why)
		}
		return 0
	}
	if err := x.setHeader(name, value, add); err != nil {
		L.RaiseError("%s", err.Error())
	}
	return 0
}

func removeResponseHeader(r *scriptRun, L *glua.LState) int {
	name := L.CheckString(1)
	if x := r.exchange(); x != nil {
		x.removeHeader(name)
	}
	return 0
}

func setHTTPStatus(r *scriptRun, L *glua.LState) int {
	code, ok := luaInt(L.CheckAny(1))
	if !ok {
		L.ArgError(1, "status must be an integer")
	}
	x := r.exchange()
	if x == nil {
		x = &HTTPExchange{} // only to check the value
	}
	if err := x.setStatus(code); err != nil {
		L.ArgError(1, err.Error())
	}
	return 0
}
