-- backline-test: standalone
-- nauthilus_context: spec §4.2, corpus §5 items 2 and 3.
local t = require("testlib")
local ctx = require("nauthilus_context")

function nauthilus_call_filter(request)
  -- unknown key
  t.eq(ctx.context_get("missing"), nil, "unknown key")
  -- scalars
  ctx.context_set("s", "text")
  ctx.context_set("n", 42)
  ctx.context_set("b", false)
  t.eq(ctx.context_get("s"), "text")
  t.eq(ctx.context_get("n"), 42)
  t.eq(ctx.context_get("b"), false)
  -- a number key is coerced to a string
  ctx.context_set(7, "seven")
  t.eq(ctx.context_get("7"), "seven", "number key")

  -- copies in: changing the table after context_set changes nothing
  local tbl = { a = 1, list = { "x", "y" } }
  ctx.context_set("tbl", tbl)
  tbl.a = 2
  tbl.list[3] = "z"
  local got = ctx.context_get("tbl")
  t.eq(got.a, 1, "copy on set")
  t.eq(#got.list, 2, "copy on set (nested)")
  -- copies out: changing what context_get returned changes nothing
  got.a = 3
  t.eq(ctx.context_get("tbl").a, 1, "copy on get")
  t.truthy(ctx.context_get("tbl") ~= ctx.context_get("tbl"), "each get is a new table")
  -- {} round-trips as a table
  ctx.context_set("empty", {})
  t.eq(type(ctx.context_get("empty")), "table", "empty table")
  t.eq(next(ctx.context_get("empty")), nil, "empty table stays empty")
  -- mixed keys survive
  ctx.context_set("mixed", { [1] = "a", [5] = "e", k = true })
  local m = ctx.context_get("mixed")
  t.eq(m[1], "a") t.eq(m[5], "e") t.eq(m.k, true)
  -- functions are stored as their text (spec §2.3)
  ctx.context_set("fn", print)
  t.truthy(string.find(ctx.context_get("fn"), "^function: "), "function stored as text")

  -- delete
  ctx.context_delete("s")
  t.eq(ctx.context_get("s"), nil, "deleted")
  ctx.context_delete("never-set")
  -- nil value acts as removal
  ctx.context_set("n", nil)
  t.eq(ctx.context_get("n"), nil, "set nil")

  -- bad keys raise
  t.raises(function() ctx.context_set(true, 1) end, "string expected", "boolean key")
  t.raises(function() ctx.context_set({}, 1) end, "string expected", "table key")
  t.raises(function() ctx.context_get({}) end, "string expected", "table key on get")
  t.raises(function() ctx.context_delete(nil) end, "string expected", "nil key on delete")

  -- hostile values: a cycle and a very deep table are errors, not hangs
  local cyc = {} cyc.me = cyc
  t.raises(function() ctx.context_set("cyc", cyc) end, "cycle", "cycle")
  local deep = {} for _ = 1, 500 do deep = { deep } end
  t.raises(function() ctx.context_set("deep", deep) end, "nested more than", "deep table")
  t.eq(ctx.context_get("cyc"), nil, "nothing stored after an error")

  -- module captured at top level still works (per-run binding)
  return t.ACCEPT, t.OK
end
