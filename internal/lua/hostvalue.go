package lua

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// Host values are what modules keep outside a Lua state: nauthilus_context,
// nauthilus_cache and nauthilus_redis script arguments and replies. The
// conversion follows spec nauthilus-lua-modules §2.3:
//
//   - nil, booleans, numbers (float64) and strings are kept;
//   - a table is deep-copied: a list ([]any) when its keys, in traversal
//     order, are exactly 1, 2, …, n (an empty table is an empty list),
//     otherwise a map[any]any whose keys are converted the same way
//     (float64, bool, string; a table used as a key becomes its text);
//   - functions, userdata and threads become their tostring text
//     ("function: 0x…"), as in Nauthilus.
//
// Unlike Nauthilus, the copy is bounded. luaToHost (script arguments that
// must not fail) stores a table nested deeper than maxHostDepth levels,
// and so a cycle, as its tostring text. hostValueOf (what a store keeps:
// nauthilus_context, nauthilus_cache) refuses a cycle or such depth with
// an error instead. Both stop at a size limit: sizes are counted as string
// bytes plus hostValueOverhead per value, so a table that refers to one
// subtable many times (copied each time) is counted for every copy and
// cannot expand exponentially.

// maxHostDepth bounds the nesting of a converted value.
const maxHostDepth = 32

// hostValueOverhead is what one converted value is counted for beyond its
// string bytes: roughly a Go interface plus a map or slice slot.
const hostValueOverhead = 32

// maxHostValue bounds luaToHost's result (one value) when the caller has no
// tighter limit.
const maxHostValue = 16 << 20

var (
	errHostTooLarge = errors.New("value too large")
	errHostCycle    = errors.New("table contains itself (a cycle)")
	errHostDepth    = fmt.Errorf("table nested more than %d levels", maxHostDepth)
)

// luaToHost converts a Lua value to a host value (see above); deeper
// tables and cycles end as text. Over maxHostValue bytes it raises a Lua
// error the way L.RaiseError does (a panic with *glua.ApiError), so call
// it only from a function Lua called.
func luaToHost(v glua.LValue) any {
	c := hostConverter{left: maxHostValue}
	out, err := c.value(v, 0)
	if err != nil {
		err = fmt.Errorf("%w: more than %d bytes", errHostTooLarge, int64(maxHostValue))
		panic(&glua.ApiError{Type: glua.ApiErrorRun, Object: glua.LString(err.Error())})
	}
	return out
}

// hostValueOf converts v for a store and returns its counted size; a value
// of more than limit bytes, nested deeper than maxHostDepth or cyclic is an
// error.
func hostValueOf(v glua.LValue, limit int64) (any, int64, error) {
	c := hostConverter{left: limit, strict: true}
	out, err := c.value(v, 0)
	if err != nil {
		if errors.Is(err, errHostTooLarge) {
			err = fmt.Errorf("%w: more than %d bytes", errHostTooLarge, limit)
		}
		return nil, 0, err
	}
	return out, limit - c.left, nil
}

type hostConverter struct {
	left int64
	// strict refuses cycles and depth (hostValueOf) instead of storing
	// the table's text (luaToHost).
	strict bool
	// open are the tables being copied (the path from the root, at most
	// maxHostDepth), so a table that contains itself is told from one that
	// is merely shared.
	open []*glua.LTable
}

func (c *hostConverter) spend(n int) error {
	c.left -= int64(n) + hostValueOverhead
	if c.left < 0 {
		return errHostTooLarge
	}
	return nil
}

// keep copies a string for a store (strict): a Lua string may share the
// bytes of a far larger one (string.sub, captures, split), which a kept
// slice would pin while being counted at its own length.
func (c *hostConverter) keep(s string) string {
	if c.strict {
		return strings.Clone(s)
	}
	return s
}

func (c *hostConverter) value(v glua.LValue, depth int) (any, error) {
	switch x := v.(type) {
	case *glua.LNilType:
		return nil, c.spend(0)
	case glua.LBool:
		return bool(x), c.spend(0)
	case glua.LNumber:
		return float64(x), c.spend(0)
	case glua.LString:
		return c.keep(string(x)), c.spend(len(x))
	case *glua.LTable:
		return c.table(x, depth)
	default: // functions, userdata, threads, channels
		s := v.String()
		return s, c.spend(len(s))
	}
}

func (c *hostConverter) table(t *glua.LTable, depth int) (any, error) {
	if !c.strict && depth >= maxHostDepth {
		text := t.String()
		return text, c.spend(len(text))
	}
	for _, o := range c.open {
		if o == t {
			return nil, errHostCycle
		}
	}
	if depth >= maxHostDepth {
		return nil, errHostDepth
	}
	if err := c.spend(0); err != nil {
		return nil, err
	}
	if c.strict {
		c.open = append(c.open, t)
		defer func() { c.open = c.open[:len(c.open)-1] }()
	}

	if isHostList(t) {
		out := make([]any, 0, t.Len())
		for k, v := t.Next(glua.LNil); k != glua.LNil; k, v = t.Next(k) {
			e, err := c.value(v, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
		return out, nil
	}
	out := map[any]any{}
	for k, v := t.Next(glua.LNil); k != glua.LNil; k, v = t.Next(k) {
		e, err := c.value(v, depth+1)
		if err != nil {
			return nil, err
		}
		var key any
		switch kx := k.(type) {
		case glua.LString:
			key = c.keep(string(kx))
			err = c.spend(len(kx))
		case glua.LNumber:
			key = float64(kx)
			err = c.spend(0)
		case glua.LBool:
			key = bool(kx)
			err = c.spend(0)
		default: // a table, function or userdata key: its identity text
			text := kx.String()
			key = text
			err = c.spend(len(text))
		}
		if err != nil {
			return nil, err
		}
		out[key] = e
	}
	return out, nil
}

// isHostList reports whether t's keys, in traversal order, are exactly
// 1, 2, …, n; an empty table is a list.
func isHostList(t *glua.LTable) bool {
	want := 1.0
	for k, _ := t.Next(glua.LNil); k != glua.LNil; k, _ = t.Next(k) {
		n, ok := k.(glua.LNumber)
		if !ok || float64(n) != want {
			return false
		}
		want++
	}
	return true
}

// hostToLua converts a host value back to Lua: every call makes new
// tables, so changing the result never changes the stored value. Lists
// ([]any, []string, other slices) become sequences, maps become hash
// tables, integers become numbers, []byte a string, an error its text and
// any other type its fmt text. Nesting deeper than maxHostDepth (only
// possible for values not made by luaToHost) becomes the text
// "<nested too deep>".
func hostToLua(L *glua.LState, v any) glua.LValue {
	return hostToLuaDepth(L, v, 0, nil)
}

// luaBuild counts what hostToLua allocates in Lua (gopher-lua tables and
// their slots, boxed values) and charges it while the value is built: a
// stored value counted at hostValueOverhead per value becomes up to eight
// times that as Lua tables (a table with one string key holds two Go maps
// and a key list), so charging the stored size let one nauthilus_cache or
// nauthilus_context read build several budgets' worth before the next
// measurement. A nil *luaBuild counts nothing.
type luaBuild struct {
	total, uncharged int64
	// charge is called with the total so far every luaBuildChunk bytes;
	// it raises (stopping the run) when the total does not fit.
	charge func(total int64)
}

const luaBuildChunk = 64 << 10

// What building costs in gopher-lua, measured with runtime.MemStats
// (TestHostToLuaChargesWhatItBuilds keeps these above the real numbers).
const (
	luaBoxCost       = 24  // a value boxed into an LValue interface (16, and a margin)
	luaListCost      = 128 // an LTable with an array part
	luaListSlotCost  = 16  // one array slot
	luaHashCost      = 896 // an LTable with its first hash key: two maps, a key list (~770, and a margin)
	luaHashEntryCost = 288 // one more key: map entries, key list and index, growth
)

func (b *luaBuild) add(n int64) {
	if b == nil {
		return
	}
	b.total += n
	b.uncharged += n
	if b.uncharged >= luaBuildChunk {
		b.uncharged = 0
		b.charge(b.total)
	}
}

func hostToLuaDepth(L *glua.LState, v any, depth int, b *luaBuild) glua.LValue {
	switch v.(type) {
	case nil, bool:
	default:
		b.add(luaBoxCost)
	}
	switch x := v.(type) {
	case nil:
		return glua.LNil
	case glua.LValue:
		return glua.LString(x.String()) // never hand one state's value to another
	case bool:
		return glua.LBool(x)
	case string:
		return glua.LString(x)
	case []byte:
		return glua.LString(x)
	case float64:
		return glua.LNumber(x)
	case float32:
		return glua.LNumber(x)
	case int:
		return glua.LNumber(x)
	case int64:
		return glua.LNumber(x)
	case int32:
		return glua.LNumber(x)
	case uint64:
		return glua.LNumber(x)
	case uint32:
		return glua.LNumber(x)
	case error:
		return glua.LString(x.Error())
	}
	if depth >= maxHostDepth {
		return glua.LString("<nested too deep>")
	}
	switch x := v.(type) {
	case []any:
		b.add(luaListCost + int64(len(x))*luaListSlotCost)
		t := L.CreateTable(len(x), 0)
		for _, e := range x {
			t.Append(hostLuaElement(L, e, depth, b))
		}
		return t
	case []string:
		b.add(luaListCost + int64(len(x))*(luaListSlotCost+luaBoxCost))
		t := L.CreateTable(len(x), 0)
		for _, e := range x {
			t.Append(glua.LString(e))
		}
		return t
	case map[string]any:
		b.addHash(len(x))
		t := L.CreateTable(0, len(x))
		for k, e := range x {
			t.RawSetString(k, hostToLuaDepth(L, e, depth+1, b))
		}
		return t
	case map[string]string:
		b.addHash(len(x))
		t := L.CreateTable(0, len(x))
		for k, e := range x {
			b.add(luaBoxCost)
			t.RawSetString(k, glua.LString(e))
		}
		return t
	case map[any]any:
		b.addHash(len(x))
		t := L.CreateTable(0, len(x))
		for k, e := range x {
			switch kx := k.(type) {
			case string:
				t.RawSetString(kx, hostToLuaDepth(L, e, depth+1, b))
			case float64:
				if !math.IsNaN(kx) {
					t.RawSet(glua.LNumber(kx), hostToLuaDepth(L, e, depth+1, b))
				}
			case nil:
			default:
				t.RawSet(hostToLuaDepth(L, k, depth+1, b), hostToLuaDepth(L, e, depth+1, b))
			}
		}
		return t
	}
	// Other slices, arrays and maps (e.g. []int64 from a Redis reply).
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		b.add(luaListCost + int64(rv.Len())*luaListSlotCost)
		t := L.CreateTable(rv.Len(), 0)
		for i := range rv.Len() {
			t.Append(hostLuaElement(L, rv.Index(i).Interface(), depth, b))
		}
		return t
	case reflect.Map:
		b.addHash(rv.Len())
		t := L.CreateTable(0, rv.Len())
		it := rv.MapRange()
		for it.Next() {
			key := hostToLuaDepth(L, it.Key().Interface(), depth+1, b)
			if key == glua.LNil {
				continue
			}
			t.RawSet(key, hostToLuaDepth(L, it.Value().Interface(), depth+1, b))
		}
		return t
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return glua.LNumber(rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return glua.LNumber(rv.Uint())
	case reflect.Float32, reflect.Float64:
		return glua.LNumber(rv.Float())
	}
	return glua.LString(fmt.Sprint(v))
}

func (b *luaBuild) addHash(entries int) {
	if entries > 0 {
		b.add(luaHashCost + int64(entries-1)*luaHashEntryCost)
	} else {
		b.add(luaListCost)
	}
}

// sortedHostKeys orders map keys so that a table built from them is the
// same every time (its pairs order); nil and NaN keys, which Lua cannot
// hold, are dropped. hostToLua does not sort (pairs order is unspecified,
// as in Nauthilus, and sorting cost a context_get a third of its time).
func sortedHostKeys(m map[any]any) []any {
	type keyed struct {
		key  any
		text string
	}
	ks := make([]keyed, 0, len(m))
	for k := range m {
		if f, isNumber := k.(float64); k == nil || isNumber && math.IsNaN(f) {
			continue
		}
		text, ok := k.(string)
		if !ok {
			text = fmt.Sprint(k)
		}
		ks = append(ks, keyed{k, text})
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i].text < ks[j].text })
	keys := make([]any, len(ks))
	for i, k := range ks {
		keys[i] = k.key
	}
	return keys
}

// hostLuaElement converts a list element; a nil element becomes false,
// not a hole, so the sequence keeps its length (a Redis nil in a reply
// list). luaToHost never makes such a list: a Lua sequence has no nil.
func hostLuaElement(L *glua.LState, e any, depth int, b *luaBuild) glua.LValue {
	lv := hostToLuaDepth(L, e, depth+1, b)
	if lv == glua.LNil {
		return glua.LFalse
	}
	return lv
}

// hostSize is the counted size of a host value made by luaToHost
// (string bytes plus hostValueOverhead per value), for values whose size
// was not kept.
func hostSize(v any) int64 {
	switch x := v.(type) {
	case string:
		return int64(len(x)) + hostValueOverhead
	case []any:
		n := int64(hostValueOverhead)
		for _, e := range x {
			n += hostSize(e)
		}
		return n
	case map[string]any:
		n := int64(hostValueOverhead)
		for k, e := range x {
			n += int64(len(k)) + hostValueOverhead + hostSize(e)
		}
		return n
	case map[any]any:
		n := int64(hostValueOverhead)
		for k, e := range x {
			n += hostSize(k) + hostSize(e)
		}
		return n
	default:
		return hostValueOverhead
	}
}

// cloneHost deep-copies a host value made by luaToHost, so a store can hand
// out or merge values without sharing maps and slices.
func cloneHost(v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = cloneHost(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = cloneHost(e)
		}
		return out
	case map[any]any:
		out := make(map[any]any, len(x))
		for k, e := range x {
			out[k] = cloneHost(e)
		}
		return out
	default:
		return v
	}
}
