-- backline-test: standalone max_memory=1MiB expect-error=memory budget exceeded: nauthilus_context.context_set
-- A million tiny entries: each key counts with its overhead, so the
-- context stops at the run's budget instead of holding ~150 MB.
local ctx = require("nauthilus_context")

function nauthilus_call_filter(request)
  for i = 1, 1000000 do
    ctx.context_set("k" .. i, i)
  end
  return false, 0
end
