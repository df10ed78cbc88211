package lua

import (
	"unsafe"

	glua "github.com/yuin/gopher-lua"
)

// Rough sizes of gopher-lua's values, close enough to tell a script holding
// a few kilobytes from one holding hundreds of megabytes.
const (
	sizeValue    = 16  // an interface slot (array part, register)
	sizeHashSlot = 64  // key + value + gopher-lua's key list and index map
	sizeObject   = 64  // table, function, userdata or thread header
	sizeString   = 16  // string header besides its bytes
	sharedString = 256 // strings this long are counted once however often referenced
	// sizeThread is a coroutine: its own registry (5120 slots) and call
	// stack (256 frames) are allocated up front.
	sizeThread = 128 << 10
)

// sizer estimates the memory reachable from a Lua state. It never
// allocates per value: scalars are counted where they are found, and only
// containers seen for the first time go on the work list.
type sizer struct {
	limit   int64
	total   int64
	seen    map[any]struct{}
	strings map[*byte]struct{}
	work    []glua.LValue
}

func newSizer(limit int64) *sizer {
	return &sizer{limit: limit, seen: map[any]struct{}{}, strings: map[*byte]struct{}{}}
}

func (s *sizer) over() bool { return s.limit > 0 && s.total > s.limit }

// add counts v or queues it. Safe only on the goroutine that runs the state.
func (s *sizer) add(v glua.LValue) {
	switch x := v.(type) {
	case nil:
	case glua.LString:
		n := len(x)
		if n >= sharedString {
			p := unsafe.StringData(string(x))
			if _, dup := s.strings[p]; dup {
				return
			}
			s.strings[p] = struct{}{}
		}
		s.total += int64(n) + sizeString
	case *glua.LTable, *glua.LFunction, *glua.LUserData, *glua.LState:
		if nilPointer(x) {
			return
		}
		if _, dup := s.seen[x]; dup {
			return
		}
		s.seen[x] = struct{}{}
		s.total += sizeObject
		if _, ok := x.(*glua.LState); ok {
			s.total += sizeThread
		}
		s.work = append(s.work, x)
	}
}

// nilPointer reports a typed nil, which gopher-lua leaves in some places
// (a function's Env can be nil): counting nothing beats a panic that
// fails the run.
func nilPointer(v glua.LValue) bool {
	switch x := v.(type) {
	case *glua.LTable:
		return x == nil
	case *glua.LFunction:
		return x == nil
	case *glua.LUserData:
		return x == nil
	case *glua.LState:
		return x == nil
	}
	return false
}

// measure walks the roots and everything reachable from them; it stops
// early once the total passes the limit.
func (s *sizer) measure(roots ...glua.LValue) int64 {
	for _, r := range roots {
		s.add(r)
	}
	for len(s.work) > 0 && !s.over() {
		v := s.work[len(s.work)-1]
		s.work = s.work[:len(s.work)-1]
		switch x := v.(type) {
		case *glua.LTable:
			s.table(x)
		case *glua.LFunction:
			s.add(x.Env)
			if !x.IsG {
				for _, uv := range x.Upvalues {
					s.add(uv.Value())
				}
				for _, c := range x.Proto.Constants {
					s.add(c)
				}
			}
		case *glua.LUserData:
			s.add(x.Env)
			s.add(x.Metatable)
		case *glua.LState:
			s.thread(x)
		}
	}
	return s.total
}

func (s *sizer) table(t *glua.LTable) {
	s.add(t.Metatable)
	for k, v := t.Next(glua.LNil); k != glua.LNil; k, v = t.Next(k) {
		s.total += sizeHashSlot
		s.add(k)
		s.add(v)
		if s.over() {
			return
		}
	}
}

// thread counts every register of every frame (named locals and
// temporaries) and each frame's function.
func (s *sizer) thread(th *glua.LState) {
	for level := 0; ; level++ {
		dbg, ok := th.GetStack(level)
		if !ok {
			return
		}
		if fn, err := th.GetInfo("f", dbg, glua.LNil); err == nil {
			s.add(fn)
		}
		for n := 1; ; n++ {
			name, v := th.GetLocal(dbg, n)
			if name == "" {
				break
			}
			s.total += sizeValue
			s.add(v)
		}
		if s.over() {
			return
		}
	}
}
