package lua

import (
	"fmt"
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// template (gopher-lua-libs): template.choose("mustache") gives an engine
// with :render(text, values) and :render_file(path, values), each
// returning the text, or nil and an error. The output counts against the
// run's max_memory while it is built; a render that would not fit stops
// the run like any other allocation over the budget. render_file reads
// only where require may (the scripts' and package_path directories), and
// its errors never quote the file.

func init() {
	registerModule(module{
		Name: "template", Filter: true, Password: true, NotGlobal: true,
		Functions: map[string]runFunc{"choose": templateChoose},
		Setup:     func(v *vm, _ *glua.LTable) { v.mustacheEngine() },
	})
}

func templateChoose(r *scriptRun, L *glua.LState) int {
	name := L.CheckString(1)
	if name != "mustache" {
		L.Push(glua.LNil)
		L.Push(glua.LString(fmt.Sprintf("unknown template engine %q (backline has mustache)", truncateText(name, 32))))
		return 2
	}
	L.Push(r.vm().mustache)
	L.Push(glua.LNil)
	return 2
}

// mustacheEngine is the engine userdata, made once per state.
func (v *vm) mustacheEngine() *glua.LUserData {
	methods := v.L.CreateTable(0, 2)
	methods.RawSetString("render", v.L.NewFunction(func(L *glua.LState) int {
		text := v.engineArgs(L, "render")
		return v.renderMustache(L, text, L.Get(3), "")
	}))
	methods.RawSetString("render_file", v.L.NewFunction(func(L *glua.LState) int {
		path := v.engineArgs(L, "render_file")
		shown := clipPath(path)
		real := resolvePath(path)
		if !v.run.engine.files.allowed(real) {
			return pushNilErr(L, shown+" "+outsidePaths)
		}
		src, err := readScriptFile(real, shown, false)
		if err != nil {
			return pushNilErr(L, err.Error())
		}
		return v.renderMustache(L, string(src), L.Get(3), shown)
	}))
	meta := v.L.CreateTable(0, 3)
	meta.RawSetString("__index", methods)
	meta.RawSetString("__metatable", glua.LFalse)
	meta.RawSetString("__newindex", v.L.NewFunction(func(L *glua.LState) int {
		L.RaiseError("the template engine is read-only")
		return 0
	}))
	ud := v.L.NewUserData()
	ud.Metatable = meta
	v.mustache = ud
	return ud
}

// engineArgs checks engine:method(text, values) and returns text.
func (v *vm) engineArgs(L *glua.LState, method string) string {
	if v.run == nil {
		L.RaiseError("template %s called outside a request", method)
	}
	if ud, ok := L.Get(1).(*glua.LUserData); !ok || ud != v.mustache {
		L.RaiseError("template: call %s with ':' (engine:%s(...))", method, method)
	}
	return L.CheckString(2)
}

func (v *vm) renderMustache(L *glua.LState, text string, values glua.LValue, file string) int {
	nodes, err := parseMustache(text)
	if err != nil {
		msg := err.Error()
		if file != "" { // never quote a file's text
			msg = file + ": " + strings.SplitN(msg, ":", 2)[0] + ": template syntax error"
		}
		return pushNilErr(L, msg)
	}
	r := v.run
	m := &mustacheRender{stack: []glua.LValue{values}}
	m.check = func(size int) error {
		v.charge(L, int64(size)) // raises (and stops the run) over the budget
		return r.ctx.Err()
	}
	if err := m.render(nodes); err != nil {
		L.RaiseError("template render stopped: %v", err)
	}
	v.chargeRetained(L, int64(m.out.Len()))
	L.Push(glua.LString(m.out.String()))
	return 1
}

func pushNilErr(L *glua.LState, msg string) int {
	L.Push(glua.LNil)
	L.Push(glua.LString(msg))
	return 2
}
