package lua

import (
	"fmt"
	"math"

	glua "github.com/yuin/gopher-lua"

	"github.com/backline/backline/internal/config"
)

// The string and table functions that can make a large value check its
// size against lua.config.max_memory before allocating: string.rep("x",
// 1e11) is an error at once instead of a dead daemon. What the VM builds
// itself (`..`, table stores) cannot be checked in advance; the watchdog's
// measurements catch it (watchdog.go).

// charge refuses an allocation of size bytes when the run's last measured
// holdings plus size exceed its budget. The run is stopped as well, so a
// pcall around the call cannot carry on.
func (v *vm) charge(L *glua.LState, size int64) {
	r := v.run
	if r == nil {
		return
	}
	limit := r.engine.maxMemory
	if size >= 0 && size <= limit-r.measured.Load()-r.retained {
		return
	}
	err := fmt.Errorf("%w: a result of %s was asked for; a run may hold %s (lua.config.max_memory)",
		errMemoryBudget, sizeText(size), config.ByteSize(limit))
	r.stop(err)
	L.RaiseError("%s", err.Error())
}

// chargeRetained is charge for a value the script is likely to keep; it
// counts until the next measurement includes it.
func (v *vm) chargeRetained(L *glua.LState, size int64) {
	v.charge(L, size)
	if v.run != nil {
		v.run.retained += size
	}
}

func sizeText(n int64) string {
	if n < 0 || n == math.MaxInt64 {
		return "more than 8 EiB"
	}
	return fmt.Sprintf("%d bytes", n)
}

// mulSat multiplies non-negative sizes, saturating instead of overflowing.
func mulSat(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	if a > math.MaxInt64/b {
		return math.MaxInt64
	}
	return a * b
}

func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// installBudget wraps the library functions whose result size depends on
// their arguments.
func (v *vm) installBudget() {
	str, _ := v.globals.RawGetString("string").(*glua.LTable)
	tbl, _ := v.globals.RawGetString("table").(*glua.LTable)
	if str == nil || tbl == nil {
		panic("lua: string and table libraries must be open")
	}
	v.wrap(str, "rep", func(L *glua.LState) {
		n := float64(L.CheckNumber(2))
		if n >= 1 { // n < 1 (and NaN) gives ""
			count := int64(math.MaxInt64)
			if n < math.MaxInt64 {
				count = int64(n)
			}
			v.charge(L, mulSat(int64(len(L.CheckString(1))), count))
		}
	})
	v.wrap(str, "format", func(L *glua.LState) {
		args := make([]glua.LValue, 0, L.GetTop()-1)
		for i := 2; i <= L.GetTop(); i++ {
			args = append(args, L.Get(i))
		}
		bound, err := formatBound(L.CheckString(1), args)
		if err != nil {
			L.RaiseError("bad argument #1 to format (%v)", err)
		}
		v.charge(L, bound)
	})
	// ToUpper/ToLower turn each invalid UTF-8 byte into a 3-byte U+FFFD.
	for _, name := range []string{"upper", "lower"} {
		v.wrap(str, name, func(L *glua.LState) { v.charge(L, mulSat(int64(len(L.CheckString(1))), 3)) })
	}
	v.wrap(str, "reverse", func(L *glua.LState) { v.charge(L, int64(len(L.CheckString(1)))) })
	v.wrap(tbl, "concat", func(L *glua.LState) { v.charge(L, concatSize(L)) })
	// os.date expands each two-byte directive to at most 18 bytes ("%c").
	if osLib, ok := v.globals.RawGetString("os").(*glua.LTable); ok {
		v.wrap(osLib, "date", func(L *glua.LState) { v.charge(L, mulSat(int64(len(L.OptString(1, ""))), 10)) })
	}
	v.installPatterns(str)
}

// wrap runs check before the library function name of lib.
func (v *vm) wrap(lib *glua.LTable, name string, check func(L *glua.LState)) {
	orig, ok := lib.RawGetString(name).(*glua.LFunction)
	if !ok || !orig.IsG {
		panic("lua: no library function " + name)
	}
	lib.RawSetString(name, v.L.NewFunction(func(L *glua.LState) int {
		check(L)
		return orig.GFunction(L)
	}))
}

// concatSize is the length of table.concat's result, computed with
// gopher-lua's own index rules and stopping once it cannot fit any budget.
func concatSize(L *glua.LState) int64 {
	t := L.CheckTable(1)
	sep := int64(len(L.OptString(2, "")))
	n := t.Len()
	i, j := L.OptInt(3, 1), L.OptInt(4, n)
	if L.GetTop() == 3 && (i > n || i < 1) {
		return 0
	}
	i, j = max(min(i, n), 1), min(j, n)
	var size int64
	for k := i; k <= j && size <= int64(config.MaxLuaMaxMemory); k++ {
		switch x := t.RawGetInt(k).(type) {
		case glua.LString:
			size += int64(len(x))
		case glua.LNumber:
			size += int64(len(x.String()))
		}
		if k != j {
			size += sep
		}
	}
	return size
}
