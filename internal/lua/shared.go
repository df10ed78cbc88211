package lua

import (
	glua "github.com/yuin/gopher-lua"
)

// A pooled state's globals, standard libraries, package tables and
// metatables serve every later run on that state, whoever's request it is.
// A run reaches them only through read-only proxies made once per state
// (freezeShared), so a script cannot change what another request sees:
// `string.upper = nil`, `getmetatable("").__index.rep = f`,
// `getfenv(print).x = 1` or `package.loaded.string.format = f` either raise
// an error or touch only the run's own environment.

// frozen is one read-only proxy: reads fall through to target (overlay
// first, which holds proxies for target's own shared tables).
type frozen struct {
	name            string
	target, overlay *glua.LTable
}

// freezeShared runs once, after every library function is in place.
func (v *vm) freezeShared() {
	L := v.L
	g := v.globals
	v.frozen = map[*glua.LTable]frozen{}

	// What a run's environment falls through to: a copy of the globals in
	// which every table is a proxy. v.globals itself stays as it was for the
	// Go side (installers, requireFile, the entry lookup).
	view := L.CreateTable(0, 64)
	g.ForEach(func(k, val glua.LValue) { view.RawSet(k, val) })
	// module() writes the shared globals and package.loaded; seeall hands
	// out the globals as an __index. Both are gone in Lua 5.2 as well.
	view.RawSetString("module", glua.LNil)

	for _, name := range []string{"string", "table", "math", "os", "coroutine"} {
		lib, ok := g.RawGetString(name).(*glua.LTable)
		if !ok {
			panic("lua: library " + name + " must be open")
		}
		p := v.readOnly(name, lib, nil, nil)
		view.RawSetString(name, p)
		v.loaded.RawSetString(name, p) // require("string") reads package.loaded
	}

	pkg := g.RawGetString("package").(*glua.LTable)
	pkg.RawSetString("seeall", glua.LNil)
	overlay := L.CreateTable(0, 3)
	for _, name := range []string{"loaded", "preload", "loaders"} {
		if t, ok := pkg.RawGetString(name).(*glua.LTable); ok {
			overlay.RawSetString(name, v.readOnly("package."+name, t, nil, nil))
		}
	}
	// package.path may be set (requireFile still confines it); bind resets
	// it for every run.
	setPath := func(L *glua.LState, key glua.LValue, val glua.LValue) bool {
		if s, ok := val.(glua.LString); ok && key == glua.LString("path") {
			pkg.RawSetString("path", s)
			return true
		}
		return false
	}
	pp := v.readOnly("package", pkg, overlay, setPath)
	view.RawSetString("package", pp)
	v.loaded.RawSetString("package", pp)

	gp := v.readOnly("_G", view, nil, nil)
	view.RawSetString("_G", gp) // a run's own _G is its environment (bind)
	v.loaded.RawSetString("_G", gp)

	// getmetatable("") gives a read-only table whose __index is the
	// read-only string library; the VM keeps using the real one.
	if smt, ok := L.GetMetatable(glua.LString("")).(*glua.LTable); ok {
		decoy := L.CreateTable(0, 1)
		decoy.RawSetString("__index", view.RawGetString("string"))
		smt.RawSetString("__metatable", v.readOnly("string metatable", decoy, nil, nil))
	}
	for _, mt := range []*glua.LTable{v.serverMeta, v.resultMeta} {
		mt.RawSetString("__metatable", glua.LFalse)
	}
	v.envMeta.RawSetString("__index", view)
	v.envMeta.RawSetString("__metatable", glua.LFalse)

	v.guardBaseFunctions(view)
}

// readOnly makes the proxy of target. A write raises an error unless
// allow takes it.
func (v *vm) readOnly(name string, target, overlay *glua.LTable,
	allow func(L *glua.LState, key, val glua.LValue) bool) *glua.LTable {
	L := v.L
	index := target
	if overlay != nil {
		overlay.Metatable = L.CreateTable(0, 1)
		overlay.Metatable.(*glua.LTable).RawSetString("__index", target)
		index = overlay
	}
	mt := L.CreateTable(0, 3)
	mt.RawSetString("__index", index)
	mt.RawSetString("__newindex", L.NewFunction(func(L *glua.LState) int {
		if allow != nil && allow(L, L.Get(2), L.Get(3)) {
			return 0
		}
		L.RaiseError("%s", readOnlyError(name, L.Get(2)))
		return 0
	}))
	mt.RawSetString("__metatable", glua.LFalse)
	p := L.CreateTable(0, 0)
	p.Metatable = mt
	v.frozen[p] = frozen{name: name, target: target, overlay: overlay}
	return p
}

func readOnlyError(name string, key glua.LValue) string {
	k := "[" + key.Type().String() + "]"
	switch x := key.(type) {
	case glua.LString:
		k = "." + clip(string(x))
	case glua.LNumber:
		k = "[" + x.String() + "]"
	}
	return "cannot change " + name + k + ": shared between requests and read-only" +
		" (keep your own table, e.g. local M = {})"
}

// guardBaseFunctions replaces the base functions that reach around a proxy
// or into another function's environment.
func (v *vm) guardBaseFunctions(view *glua.LTable) {
	L := v.L
	orig := func(name string) glua.LGFunction {
		fn, ok := view.RawGetString(name).(*glua.LFunction)
		if !ok || !fn.IsG {
			panic("lua: no base function " + name)
		}
		return fn.GFunction
	}
	getfenv, setfenv, rawset := orig("getfenv"), orig("setfenv"), orig("rawset")
	setmetatable, next := orig("setmetatable"), orig("next")
	// pairs and ipairs keep their iterator as an upvalue, so the originals
	// cannot be called from here; the iterator is taken instead.
	plainNext := view.RawGetString("next")
	set := func(name string, fn glua.LGFunction) { view.RawSetString(name, L.NewFunction(fn)) }

	// Natives, shared Lua functions (coroutine.wrap) and levels outside the
	// run answer with the run's environment instead of the shared globals.
	// Called in this frame, so the level numbers mean what they always do.
	set("getfenv", func(L *glua.LState) int {
		getfenv(L)
		if env, ok := L.Get(-1).(*glua.LTable); ok && env == v.globals {
			L.Pop(1)
			L.Push(v.runEnv())
		}
		return 1
	})
	set("setfenv", func(L *glua.LState) int {
		if n, ok := L.Get(1).(glua.LNumber); ok && n <= 0 {
			L.RaiseError("cannot change the environment of the thread: it is shared between requests")
		}
		getfenv(L)
		current := L.Get(-1)
		L.Pop(1)
		if current == v.globals {
			L.RaiseError("cannot change the environment of given object: it is shared between requests")
		}
		return setfenv(L)
	})
	// Lua 5.1 sets metatables of tables only; gopher-lua also set the one
	// metatable every string, number or function shares.
	set("setmetatable", func(L *glua.LState) int {
		L.CheckTable(1)
		return setmetatable(L)
	})
	set("rawset", func(L *glua.LState) int {
		if f, ok := v.frozen[L.CheckTable(1)]; ok {
			L.RaiseError("%s", readOnlyError(f.name, L.Get(2)))
		}
		return rawset(L)
	})
	// next, pairs and ipairs walk a proxy's target, handing out proxies
	// for its shared tables; the proxy stays the state value.
	frozenNext := L.NewFunction(func(L *glua.LState) int {
		f, ok := v.frozen[L.CheckTable(1)]
		if !ok {
			return next(L)
		}
		k, val := f.target.Next(L.Get(2))
		if k == glua.LNil {
			L.Push(glua.LNil)
			return 1
		}
		if f.overlay != nil {
			if o := f.overlay.RawGet(k); o != glua.LNil {
				val = o
			}
		}
		L.Push(k)
		L.Push(val)
		return 2
	})
	view.RawSetString("next", frozenNext)
	set("pairs", func(L *glua.LState) int {
		t := L.CheckTable(1)
		if _, ok := v.frozen[t]; ok {
			L.Push(frozenNext)
		} else {
			L.Push(plainNext)
		}
		L.Push(t)
		L.Push(glua.LNil)
		return 3
	})
	ipairsAux := L.NewFunction(func(L *glua.LState) int {
		t := L.CheckTable(1)
		if f, ok := v.frozen[t]; ok {
			t = f.target
		}
		i := L.CheckInt(2) + 1
		val := t.RawGetInt(i)
		if val == glua.LNil {
			return 0
		}
		L.Push(smallNumber(i))
		L.Push(val)
		return 2
	})
	set("ipairs", func(L *glua.LState) int {
		L.Push(ipairsAux)
		L.Push(L.CheckTable(1))
		L.Push(smallNumber(0))
		return 3
	})

	// table.insert, remove and sort write raw: not into a proxy.
	tbl := v.globals.RawGetString("table").(*glua.LTable)
	for _, name := range []string{"insert", "remove", "sort"} {
		v.wrap(tbl, name, func(L *glua.LState) {
			if f, ok := v.frozen[L.CheckTable(1)]; ok {
				L.RaiseError("%s: %s is shared between requests and read-only", name, f.name)
			}
		})
	}
}

// runEnv is the running script's environment (nil between runs).
func (v *vm) runEnv() glua.LValue {
	if v.env == nil {
		return glua.LNil
	}
	return v.env
}

// smallNumbers are the LNumbers 0..1023 as LValues. Boxing a float64 in an
// interface allocates; ipairs did it for every index.
var smallNumbers = func() (t [1024]glua.LValue) {
	for i := range t {
		t[i] = glua.LNumber(i)
	}
	return t
}()

// smallNumber is glua.LNumber(i) as an LValue, without an allocation for
// small i.
func smallNumber(i int) glua.LValue {
	if i >= 0 && i < len(smallNumbers) {
		return smallNumbers[i]
	}
	return glua.LNumber(i)
}
