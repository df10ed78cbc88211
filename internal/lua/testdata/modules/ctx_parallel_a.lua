-- Parallel filter A (first in config order).
local ctx = require("nauthilus_context")

function nauthilus_call_filter(request)
  local facts = ctx.context_get("facts") or {}
  facts.from_a = true
  facts.nested = facts.nested or {}
  facts.nested.a = 1
  ctx.context_set("facts", facts)
  ctx.context_set("winner", "a")
  ctx.context_set("only_a", "a")
  ctx.context_delete("doomed")
  -- B's writes are never visible here, whichever runs first
  if ctx.context_get("only_b") ~= nil then error("saw a sibling's write") end
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end
