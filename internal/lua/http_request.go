package lua

import (
	glua "github.com/yuin/gopher-lua"
)

// nauthilus_http_request reads the HTTP request of the current auth run
// (spec nauthilus-lua-modules §4.5): bound in filters and Lua password
// scripts. Every function returns value, nil. Without an HTTP exchange
// (`backline lua test`) it reads as an empty GET of "/".
func init() {
	registerModule(module{
		Name:     "nauthilus_http_request",
		Filter:   true,
		Password: true,
		Functions: map[string]runFunc{
			"get_all_http_request_headers": getAllHTTPRequestHeaders,
			"get_http_request_header":      getHTTPRequestHeader,
			"get_http_request_body":        getHTTPRequestBody,
			"get_http_method":              getHTTPMethod,
			"get_http_path":                getHTTPPath,
			"get_http_query_param":         getHTTPQueryParam,
			"url_partial_decode": func(_ *scriptRun, L *glua.LState) int {
				L.Push(glua.LString(urlPartialDecode(L.CheckString(1))))
				L.Push(glua.LNil)
				return 2
			},
		},
	})
}

func (r *scriptRun) exchange() *HTTPExchange {
	if r.req == nil {
		return nil
	}
	return r.req.HTTP
}

func pushOK(L *glua.LState, v glua.LValue) int {
	L.Push(v)
	L.Push(glua.LNil)
	return 2
}

// stringList is an array of strings, {} for none.
func stringList(L *glua.LState, vs []string) *glua.LTable {
	t := L.CreateTable(len(vs), 0)
	for _, v := range vs {
		t.Append(glua.LString(v))
	}
	return t
}

// getAllHTTPRequestHeaders maps each lower-cased name to its values. Two
// names that differ only in case (possible only for names net/http could
// not canonicalise) share one list.
func getAllHTTPRequestHeaders(r *scriptRun, L *glua.LState) int {
	x := r.exchange()
	t := L.CreateTable(0, 0)
	if x == nil {
		return pushOK(L, t)
	}
	// Charged before building: a table and a list per name cost far more
	// than the request head's bytes (luaBuild's measured costs).
	size := int64(luaHashCost)
	for name, vs := range x.Header {
		size += luaHashEntryCost + luaListCost + int64(len(name)) + int64(len(vs))*(luaListSlotCost+luaBoxCost)
	}
	r.state.chargeRetained(L, size)
	for _, name := range ResponseHeaderNames(x.Header) {
		if !x.visible(name) {
			continue
		}
		key := lowerASCII(name)
		list, ok := t.RawGetString(key).(*glua.LTable)
		if !ok {
			list = L.CreateTable(len(x.Header[name]), 0)
			t.RawSetString(key, list)
		}
		for _, v := range x.Header[name] {
			list.Append(glua.LString(v))
		}
	}
	return pushOK(L, t)
}

func getHTTPRequestHeader(r *scriptRun, L *glua.LState) int {
	name := L.CheckString(1)
	var vs []string
	if x := r.exchange(); x != nil {
		vs = x.requestHeader(name)
	}
	return pushOK(L, stringList(L, vs))
}

// getHTTPRequestBody returns the body the endpoint read; every call sees
// the same text, and the endpoint parses its own copy.
func getHTTPRequestBody(r *scriptRun, L *glua.LState) int {
	x := r.exchange()
	if x == nil {
		return pushOK(L, glua.LString(""))
	}
	if x.BodyErr != "" {
		L.Push(glua.LNil)
		L.Push(glua.LString(x.BodyErr))
		return 2
	}
	return pushOK(L, glua.LString(x.Body))
}

func getHTTPMethod(r *scriptRun, L *glua.LState) int {
	m := "GET"
	if x := r.exchange(); x != nil && x.Method != "" {
		m = x.Method
	}
	return pushOK(L, glua.LString(m))
}

func getHTTPPath(r *scriptRun, L *glua.LState) int {
	p := "/"
	if x := r.exchange(); x != nil && x.Path != "" {
		p = x.Path
	}
	return pushOK(L, glua.LString(p))
}

// getHTTPQueryParam is the first value of name, "" when absent.
func getHTTPQueryParam(r *scriptRun, L *glua.LState) int {
	name := L.CheckString(1)
	v := ""
	if x := r.exchange(); x != nil {
		v = x.Query.Get(name)
	}
	return pushOK(L, glua.LString(v))
}

func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
