-- backline-test: standalone max_memory=1MiB expect-error=memory budget exceeded: nauthilus_context.context_set
-- The context counts against the run's memory budget: storing more copies
-- of a 300 KB string than max_memory allows stops the run.
local ctx = require("nauthilus_context")

function nauthilus_call_filter(request)
  local s = string.rep("x", 300 * 1024)
  for i = 1, 10 do
    ctx.context_set("k" .. i, s)
  end
  return false, 0
end
