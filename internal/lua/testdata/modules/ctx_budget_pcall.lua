-- backline-test: standalone max_memory=1MiB expect-error=memory budget exceeded
-- pcall cannot carry on after the budget stopped the run.
local ctx = require("nauthilus_context")

function nauthilus_call_filter(request)
  local s = string.rep("x", 300 * 1024)
  for i = 1, 10 do
    pcall(ctx.context_set, "k" .. i, s)
  end
  return false, 0
end
