-- Parallel filter B (second in config order).
local ctx = require("nauthilus_context")

function nauthilus_call_filter(request)
  local facts = ctx.context_get("facts") or {}
  facts.from_b = true
  facts.nested = facts.nested or {}
  facts.nested.b = 2
  ctx.context_set("facts", facts)
  ctx.context_set("winner", "b")
  ctx.context_set("only_b", "b")
  if ctx.context_get("only_a") ~= nil then error("saw a sibling's write") end
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end
