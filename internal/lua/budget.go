package lua

import glua "github.com/yuin/gopher-lua"

// charge refuses an allocation of size bytes that would exceed the run's
// memory budget, before it is made.
func (v *vm) charge(L *glua.LState, size int) {
	if v.run == nil {
		return
	}
	if limit := v.run.engine.maxMemory; limit > 0 && int64(size) > limit {
		L.RaiseError("memory budget exceeded: %d bytes requested, lua.config.max_memory is %d", size, limit)
	}
}
