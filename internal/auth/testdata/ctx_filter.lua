-- Filter that routes on what the passdb stored in nauthilus_context.
local ctx = require("nauthilus_context")

function nauthilus_call_filter(request)
  if ctx.context_get("verified_user") == request.username then
    nauthilus_backend.select_backend_server("127.0.0.1", 1143)
  else
    nauthilus_backend.select_backend_server("127.0.0.1", 9999)
  end
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end
