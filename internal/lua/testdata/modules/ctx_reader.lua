-- Filter: reads what the password script stored, reports it as a log field.
local ctx = require("nauthilus_context")

function nauthilus_call_filter(request)
  local seen = ctx.context_get("seen")
  nauthilus_builtin.custom_log_add("seen_by", seen and seen.by or "nobody")
  nauthilus_builtin.custom_log_add("seen_user", seen and seen.user or "")
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end
